#include "ops/store.hpp"

#include "pkcs11/session_pool.hpp"
#include "pkcs11/token.hpp"

#include <algorithm>

namespace hsmp::ops {
namespace {

// Enough for any real token; the cap only bounds a listing of a huge token.
constexpr std::size_t kListLimit = 256;

std::string class_list(const std::vector<CK_OBJECT_CLASS>& classes) {
    std::string out;
    for (std::size_t i = 0; i < classes.size(); ++i) {
        if (i > 0) {
            out += i + 1 == classes.size() ? " or " : ", ";
        }
        out += p11::object_class_name(classes[i]);
    }
    return out;
}

Result<std::vector<std::uint8_t>> certificate_der(p11::Object& cert) {
    return cert.token()->with_session(
        [&](p11::SessionLease& lease) -> Result<std::vector<std::uint8_t>> {
            auto handle = cert.handle(lease);
            if (!handle) {
                return handle.error();
            }
            return p11::read_attribute(lease, handle.value(), CKA_VALUE);
        });
}

} // namespace

Result<std::unique_ptr<Store>> Store::open(ProviderContext& ctx, std::string_view uri_text) {
    auto parsed = uri::parse(uri_text);
    if (!parsed) {
        // The parser's message is safe to show: it names the kind and offset and never
        // contains a pin-value.
        return Error(Code::InvalidArgument, "malformed PKCS#11 URI: " + parsed.error.message);
    }
    // Keys alone are not enough: digests, TLS and encoders come from the default provider.
    if (auto companion = ctx.require_default_provider(); !companion) {
        return companion.error();
    }
    return std::unique_ptr<Store>(new Store(ctx, std::move(parsed.uri).value()));
}

std::vector<CK_OBJECT_CLASS> Store::classes_to_search() const {
    if (m_uri.type) {
        return {p11::object_class_of(*m_uri.type)};
    }
    switch (m_expect) {
    case StoreExpect::Any:
        return {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_CERTIFICATE};
    case StoreExpect::PrivateKey:
        // OpenSSL 3.0 drops every object that is not a private key when one is expected
        // (storeutl -keys, pkey -in), so loading public keys here would be wasted work.
        return {CKO_PRIVATE_KEY};
    case StoreExpect::PublicKey:
        return {CKO_PUBLIC_KEY, CKO_PRIVATE_KEY};
    case StoreExpect::Certificate:
        return {CKO_CERTIFICATE};
    case StoreExpect::Nothing:
        break;
    }
    return {};
}

Result<void> Store::search(const p11::PinCallback& pin) {
    const std::vector<CK_OBJECT_CLASS> classes = classes_to_search();
    std::size_t private_keys = 0;
    for (const CK_OBJECT_CLASS cls : classes) {
        auto found = m_ctx->library().find(m_uri, cls, pin, kListLimit - m_found.size());
        if (!found) {
            return found.error();
        }
        for (auto& object : found.value()) {
            private_keys += object->object_class() == CKO_PRIVATE_KEY ? 1 : 0;
            m_found.push_back(std::move(object));
        }
        if (m_found.size() >= kListLimit) {
            break;
        }
    }
    const bool names_an_object = m_uri.object.has_value() || m_uri.id.has_value();
    const bool wants_private = m_expect == StoreExpect::PrivateKey ||
                               (m_uri.type && *m_uri.type == uri::ObjectType::Private);
    if (names_an_object && wants_private && private_keys > 1) {
        return Error(Code::Ambiguous, uri::format_redacted(m_uri) + " matches " +
                                          std::to_string(private_keys) +
                                          " private keys; add id= (or serial=) to choose one");
    }
    if (m_found.empty() && !classes.empty()) {
        return Error(Code::NotFound,
                     "no " + class_list(classes) + " matches " + uri::format_redacted(m_uri));
    }
    return ok();
}

Result<StoreObject> Store::convert(const std::shared_ptr<p11::Object>& object) {
    StoreObject out;
    out.description = object->describe();
    switch (object->object_class()) {
    case CKO_PRIVATE_KEY:
    case CKO_PUBLIC_KEY: {
        const bool is_private = object->object_class() == CKO_PRIVATE_KEY;
        auto key =
            is_private ? Key::from_token(*m_ctx, object) : Key::from_token_public(*m_ctx, object);
        if (!key) {
            return key.error();
        }
        if (auto r = require_offered(*m_ctx, key_family(key.value()->kind()), out.description);
            !r) {
            return r.error();
        }
        out.kind = is_private ? StoreObject::Kind::PrivateKey : StoreObject::Kind::PublicKey;
        out.key = std::move(key).value();
        return out;
    }
    case CKO_CERTIFICATE: {
        auto der = certificate_der(*object);
        if (!der) {
            return der.error().with_context("reading the certificate " + out.description);
        }
        out.kind = StoreObject::Kind::Certificate;
        out.der = std::move(der).value();
        return out;
    }
    default:
        break;
    }
    return Error(Code::Unsupported,
                 out.description + " is a " +
                     std::string(p11::object_class_name(object->object_class())) +
                     ", which OpenSSL cannot load from a store");
}

Result<std::optional<StoreObject>> Store::next(const p11::PinCallback& pin) {
    if (m_state == State::Fresh) {
        auto r = search(pin);
        if (!r) {
            const bool not_found = r.error().code() == Code::NotFound;
            m_state = not_found ? State::Done : State::Failed;
            m_found.clear();
            return r.error();
        }
        m_state = State::Listing;
    }
    if (m_state != State::Listing || m_next >= m_found.size()) {
        m_state = m_state == State::Failed ? State::Failed : State::Done;
        return std::optional<StoreObject>{};
    }
    const auto object = m_found[m_next++];
    if (m_next >= m_found.size()) {
        m_state = State::Done;
    }
    auto converted = convert(object);
    if (!converted) {
        return converted.error();
    }
    return std::optional<StoreObject>(std::move(converted).value());
}

bool Store::eof() noexcept {
    switch (m_state) {
    case State::Fresh:
    case State::Listing:
        return false;
    case State::Done:
        return true;
    case State::Failed:
        // OpenSSL asks eof() right after a failed load to decide whether the failure is an
        // error (eof false) or the end (eof true). Answer "error" once, then "end", so
        // callers that loop until eof (storeutl) stop.
        if (!m_failure_seen) {
            m_failure_seen = true;
            return false;
        }
        return true;
    }
    return true;
}

} // namespace hsmp::ops
