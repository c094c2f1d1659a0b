#include "pkcs11/object.hpp"

#include <cstdio>
#include <utility>

namespace hsmp::p11 {

namespace {

CK_ATTRIBUTE attr(CK_ATTRIBUTE_TYPE type, void* value, std::size_t len) {
    return CK_ATTRIBUTE{type, value, static_cast<CK_ULONG>(len)};
}

std::string attribute_name(CK_ATTRIBUTE_TYPE type) {
    switch (type) {
    case CKA_CLASS:
        return "CKA_CLASS";
    case CKA_ID:
        return "CKA_ID";
    case CKA_LABEL:
        return "CKA_LABEL";
    case CKA_KEY_TYPE:
        return "CKA_KEY_TYPE";
    case CKA_MODULUS:
        return "CKA_MODULUS";
    case CKA_PUBLIC_EXPONENT:
        return "CKA_PUBLIC_EXPONENT";
    case CKA_MODULUS_BITS:
        return "CKA_MODULUS_BITS";
    case CKA_EC_PARAMS:
        return "CKA_EC_PARAMS";
    case CKA_EC_POINT:
        return "CKA_EC_POINT";
    case CKA_VALUE:
        return "CKA_VALUE";
    default:
        return "attribute 0x" + [&] {
            char buf[32];
            snprintf(buf, sizeof buf, "%lx", type);
            return std::string(buf);
        }();
    }
}

} // namespace

Result<std::vector<std::uint8_t>> read_attribute(const SessionLease& session,
                                                 CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) {
    const Module& mod = session.module();
    CK_ATTRIBUTE probe = attr(type, nullptr, 0);
    CK_RV rv = mod.call("C_GetAttributeValue", &CK_FUNCTION_LIST::C_GetAttributeValue,
                        session.handle(), object, &probe, CK_ULONG{1});
    if (rv != CKR_OK) {
        return rv_error("C_GetAttributeValue", rv, "reading " + attribute_name(type));
    }
    if (probe.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
        return Error(Code::NotFound, attribute_name(type) + " is not available");
    }
    std::vector<std::uint8_t> value(probe.ulValueLen);
    if (value.empty()) {
        return value;
    }
    CK_ATTRIBUTE fetch = attr(type, value.data(), value.size());
    rv = mod.call("C_GetAttributeValue", &CK_FUNCTION_LIST::C_GetAttributeValue, session.handle(),
                  object, &fetch, CK_ULONG{1});
    if (rv != CKR_OK) {
        return rv_error("C_GetAttributeValue", rv, "reading " + attribute_name(type));
    }
    value.resize(fetch.ulValueLen);
    return value;
}

Result<CK_ULONG> read_ulong_attribute(const SessionLease& session, CK_OBJECT_HANDLE object,
                                      CK_ATTRIBUTE_TYPE type) {
    CK_ULONG value = 0;
    CK_ATTRIBUTE a = attr(type, &value, sizeof value);
    const CK_RV rv =
        session.module().call("C_GetAttributeValue", &CK_FUNCTION_LIST::C_GetAttributeValue,
                              session.handle(), object, &a, CK_ULONG{1});
    if (rv != CKR_OK) {
        return rv_error("C_GetAttributeValue", rv, "reading " + attribute_name(type));
    }
    if (a.ulValueLen != sizeof value) {
        return Error(Code::Internal, attribute_name(type) + " has an unexpected length");
    }
    return value;
}

Result<std::vector<CK_OBJECT_HANDLE>>
find_handles(const SessionLease& session, std::vector<CK_ATTRIBUTE> templ, std::size_t limit) {
    const Module& mod = session.module();
    CK_RV rv =
        mod.call("C_FindObjectsInit", &CK_FUNCTION_LIST::C_FindObjectsInit, session.handle(),
                 templ.empty() ? nullptr : templ.data(), static_cast<CK_ULONG>(templ.size()));
    if (rv != CKR_OK) {
        return rv_error("C_FindObjectsInit", rv, "searching objects");
    }
    std::vector<CK_OBJECT_HANDLE> found;
    CK_OBJECT_HANDLE batch[16];
    while (found.size() < limit) {
        CK_ULONG count = 0;
        rv = mod.call("C_FindObjects", &CK_FUNCTION_LIST::C_FindObjects, session.handle(), batch,
                      CK_ULONG{16}, &count);
        if (rv != CKR_OK || count == 0) {
            break;
        }
        for (CK_ULONG i = 0; i < count && found.size() < limit; ++i) {
            found.push_back(batch[i]);
        }
    }
    const CK_RV final_rv =
        mod.call("C_FindObjectsFinal", &CK_FUNCTION_LIST::C_FindObjectsFinal, session.handle());
    if (rv != CKR_OK) {
        return rv_error("C_FindObjects", rv, "searching objects");
    }
    if (final_rv != CKR_OK) {
        return rv_error("C_FindObjectsFinal", final_rv, "searching objects");
    }
    return found;
}

CK_OBJECT_CLASS object_class_of(uri::ObjectType type) noexcept {
    switch (type) {
    case uri::ObjectType::Public:
        return CKO_PUBLIC_KEY;
    case uri::ObjectType::Private:
        return CKO_PRIVATE_KEY;
    case uri::ObjectType::Cert:
        return CKO_CERTIFICATE;
    case uri::ObjectType::SecretKey:
        return CKO_SECRET_KEY;
    case uri::ObjectType::Data:
        return CKO_DATA;
    }
    return CKO_DATA;
}

std::string_view object_class_name(CK_OBJECT_CLASS cls) noexcept {
    switch (cls) {
    case CKO_PRIVATE_KEY:
        return "private key";
    case CKO_PUBLIC_KEY:
        return "public key";
    case CKO_CERTIFICATE:
        return "certificate";
    case CKO_SECRET_KEY:
        return "secret key";
    case CKO_DATA:
        return "data object";
    default:
        return "object";
    }
}

// A seqlock without standalone fences (which ThreadSanitizer does not model): the data
// loads are acquires, so the second sequence load cannot move above them, and a reader
// that saw any value of a newer write also sees that write's odd sequence number.
std::optional<CK_OBJECT_HANDLE> HandleCell::get(std::uint64_t generation) const noexcept {
    for (;;) {
        const std::uint64_t before = m_seq.load(std::memory_order_acquire);
        if ((before & 1U) == 0) {
            const std::uint64_t stored = m_generation.load(std::memory_order_acquire);
            const CK_OBJECT_HANDLE handle = m_handle.load(std::memory_order_acquire);
            if (m_seq.load(std::memory_order_relaxed) == before) {
                return stored == generation ? std::optional(handle) : std::nullopt;
            }
        }
        // A writer is between its two sequence stores: a handful of instructions.
    }
}

void HandleCell::set(CK_OBJECT_HANDLE handle, std::uint64_t generation) noexcept {
    const std::uint64_t seq = m_seq.load(std::memory_order_relaxed);
    m_seq.store(seq + 1, std::memory_order_relaxed);
    m_generation.store(generation, std::memory_order_release);
    m_handle.store(handle, std::memory_order_release);
    m_seq.store(seq + 2, std::memory_order_release);
}

Object::Object(std::shared_ptr<Token> token, ObjectIdentity identity, CK_KEY_TYPE key_type,
               CK_OBJECT_HANDLE handle, std::uint64_t generation)
    : m_token(std::move(token)), m_identity(std::move(identity)), m_key_type(key_type),
      m_handle(handle, generation) {}

Result<CK_OBJECT_HANDLE> Object::handle(const SessionLease& session) {
    const std::uint64_t current = m_token->generation();
    if (auto h = m_handle.get(current)) {
        return *h;
    }
    // Stale after fork, re-initialisation or device loss: find the same object again by
    // class, CKA_ID and CKA_LABEL, and swap the handle in place.
    CK_OBJECT_CLASS cls = m_identity.cls;
    CK_BBOOL on_token = CK_TRUE;
    std::vector<CK_ATTRIBUTE> templ{attr(CKA_CLASS, &cls, sizeof cls),
                                    attr(CKA_TOKEN, &on_token, sizeof on_token)};
    std::vector<std::uint8_t> id = m_identity.id;
    std::string label = m_identity.label.value_or("");
    if (!id.empty()) {
        templ.push_back(attr(CKA_ID, id.data(), id.size()));
    }
    if (m_identity.label) {
        templ.push_back(attr(CKA_LABEL, label.data(), label.size()));
    }
    auto found = find_handles(session, templ, 2);
    if (!found) {
        return found.error().with_context("finding " + describe() + " again");
    }
    if (found->empty()) {
        return Error(Code::NotFound, describe() + " is no longer on the token");
    }
    if (found->size() > 1) {
        return Error(Code::Ambiguous, describe() + " now matches more than one object");
    }
    const std::lock_guard lock(m_mutex);
    m_handle.set(found->front(), current);
    return found->front();
}

Result<CK_OBJECT_HANDLE> Object::operation_handle(const SessionLease& session) {
    auto original = handle(session);
    if (!original || m_identity.cls != CKO_PRIVATE_KEY || !m_token->config().cache_keys) {
        return original;
    }
    if (m_copy_refused.load(std::memory_order_relaxed)) {
        return original;
    }
    const std::uint64_t current = m_token->generation();
    if (auto copy = m_copy.get(current); copy && *copy != CK_INVALID_HANDLE) {
        return *copy;
    }
    auto copy = m_token->session_copy(original.value());
    const std::lock_guard lock(m_mutex);
    if (!copy) {
        // Tokens that protect keys from copying (CKA_COPYABLE false, HSM policy) are used
        // through the token object; the refusal is remembered, not retried per operation.
        m_copy_refused.store(true, std::memory_order_relaxed);
        return original;
    }
    m_copy.set(copy.value(), current);
    return copy.value();
}

uri::Uri Object::uri() const {
    uri::Uri u;
    const TokenIdentity& t = m_token->identity();
    u.token = t.label;
    u.manufacturer = t.manufacturer;
    u.model = t.model;
    u.serial = t.serial;
    u.object = m_identity.label;
    if (!m_identity.id.empty()) {
        u.id = m_identity.id;
    }
    switch (m_identity.cls) {
    case CKO_PRIVATE_KEY:
        u.type = uri::ObjectType::Private;
        break;
    case CKO_PUBLIC_KEY:
        u.type = uri::ObjectType::Public;
        break;
    case CKO_CERTIFICATE:
        u.type = uri::ObjectType::Cert;
        break;
    case CKO_SECRET_KEY:
        u.type = uri::ObjectType::SecretKey;
        break;
    case CKO_DATA:
        u.type = uri::ObjectType::Data;
        break;
    default:
        break;
    }
    return u;
}

std::string Object::describe() const {
    return uri::format_redacted(uri());
}

namespace {

Result<std::shared_ptr<Object>> describe_found(const std::shared_ptr<Token>& token,
                                               const SessionLease& session,
                                               CK_OBJECT_HANDLE handle) {
    auto cls = read_ulong_attribute(session, handle, CKA_CLASS);
    if (!cls) {
        return cls.error();
    }
    ObjectIdentity ident;
    ident.cls = cls.value();
    if (auto id = read_attribute(session, handle, CKA_ID)) {
        ident.id = std::move(id).value();
    }
    if (auto label = read_attribute(session, handle, CKA_LABEL)) {
        ident.label = std::string(label->begin(), label->end());
    }
    CK_KEY_TYPE key_type = CK_UNAVAILABLE_INFORMATION;
    if (ident.cls == CKO_PRIVATE_KEY || ident.cls == CKO_PUBLIC_KEY ||
        ident.cls == CKO_SECRET_KEY) {
        auto kt = read_ulong_attribute(session, handle, CKA_KEY_TYPE);
        if (!kt) {
            return kt.error();
        }
        key_type = kt.value();
    }
    return std::make_shared<Object>(token, std::move(ident), key_type, handle, token->generation());
}

} // namespace

Result<std::vector<std::shared_ptr<Object>>> find_objects(const std::shared_ptr<Token>& token,
                                                          const uri::Uri& uri,
                                                          std::optional<CK_OBJECT_CLASS> cls,
                                                          std::size_t limit) {
    std::optional<CK_OBJECT_CLASS> want = cls;
    if (uri.type) {
        want = object_class_of(*uri.type);
    }
    return token->with_session(
        [&](SessionLease& session) -> Result<std::vector<std::shared_ptr<Object>>> {
            CK_OBJECT_CLASS klass = want.value_or(CKO_DATA);
            std::vector<std::uint8_t> id = uri.id.value_or(std::vector<std::uint8_t>{});
            std::string label = uri.object.value_or("");
            // Token objects only: session objects in this process are our own key copies
            // (pkcs11-module-cache-keys) and would make every URI look ambiguous.
            CK_BBOOL on_token = CK_TRUE;
            std::vector<CK_ATTRIBUTE> templ{attr(CKA_TOKEN, &on_token, sizeof on_token)};
            if (want) {
                templ.push_back(attr(CKA_CLASS, &klass, sizeof klass));
            }
            if (uri.id) {
                templ.push_back(attr(CKA_ID, id.data(), id.size()));
            }
            if (uri.object) {
                templ.push_back(attr(CKA_LABEL, label.data(), label.size()));
            }
            auto handles = find_handles(session, std::move(templ), limit);
            if (!handles) {
                return handles.error();
            }
            std::vector<std::shared_ptr<Object>> out;
            out.reserve(handles->size());
            for (const CK_OBJECT_HANDLE h : handles.value()) {
                auto obj = describe_found(token, session, h);
                if (!obj) {
                    return obj.error();
                }
                out.push_back(std::move(obj).value());
            }
            return out;
        });
}

} // namespace hsmp::p11
