#include "ops/decoder.hpp"

#include "ops/encoder.hpp"
#include "ops/uri_pem.hpp"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <p11uri/uri.hpp>

#include <string_view>

namespace hsmp::ops {
namespace {

// PEM_read_bio's outputs, freed together.
struct PemBlock {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    PemBlock() = default;
    PemBlock(const PemBlock&) = delete;
    PemBlock& operator=(const PemBlock&) = delete;
    ~PemBlock() {
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
    }
};

// Whether a PKCS#11 key type can hold a key of `kind`; checked before the public parts are
// read, so the decoders for the other types cost one object search and nothing more.
bool key_type_fits(CK_KEY_TYPE type, KeyKind kind) {
    switch (kind) {
    case KeyKind::Rsa:
    case KeyKind::RsaPss:
        return type == CKK_RSA;
    case KeyKind::Ec:
        return type == CKK_EC;
    case KeyKind::Ed25519:
    case KeyKind::Ed448:
        return type == CKK_EC_EDWARDS;
    }
    return false;
}

// The family of the key kinds a PKCS#11 key type can hold (by key_type_fits), or none for a
// type no decoder takes (stage 2 says what is wrong with those).
std::optional<Family> key_type_family(CK_KEY_TYPE type) {
    for (const KeyKind kind : {KeyKind::Rsa, KeyKind::Ec, KeyKind::Ed25519}) {
        if (key_type_fits(type, kind)) {
            return key_family(kind);
        }
    }
    return std::nullopt;
}

} // namespace

Result<std::optional<std::vector<std::uint8_t>>> read_key_reference_pem(const ProviderContext& ctx,
                                                                        OSSL_CORE_BIO* in) {
    auto bio = bio_from_core(ctx, in);
    if (!bio) {
        return bio.error();
    }
    PemBlock block;
    // Not a PEM block (or not one we can read) is not our error: other decoders may know
    // the input. Hide PEM_read_bio's "no start line" from the queue.
    ERR_set_mark();
    const int got = PEM_read_bio(bio->get(), &block.name, &block.header, &block.data, &block.len);
    ERR_pop_to_mark();
    if (got != 1 || block.name == nullptr || std::string_view(block.name) != uri_pem::kPemLabel) {
        return std::optional<std::vector<std::uint8_t>>{};
    }
    if (block.len <= 0 || static_cast<std::size_t>(block.len) > 2 * uri_pem::kMaxUriLength) {
        return Error(Code::InvalidArgument, "key-reference PEM: the block is empty or too large");
    }
    return std::optional<std::vector<std::uint8_t>>(
        std::vector<std::uint8_t>(block.data, block.data + block.len));
}

Result<std::vector<std::uint8_t>> read_all(const ProviderContext& ctx, OSSL_CORE_BIO* in,
                                           std::size_t limit) {
    auto bio = bio_from_core(ctx, in);
    if (!bio) {
        return bio.error();
    }
    std::vector<std::uint8_t> out;
    std::uint8_t buf[4096];
    for (;;) {
        std::size_t got = 0;
        if (BIO_read_ex(bio->get(), buf, sizeof buf, &got) != 1 || got == 0) {
            break;
        }
        if (out.size() + got > limit) {
            return Error(Code::InvalidArgument, "input larger than " + std::to_string(limit) +
                                                    " bytes is not a key reference");
        }
        out.insert(out.end(), buf, buf + got);
    }
    return out;
}

Result<void> check_key_reference(ProviderContext& ctx, std::span<const std::uint8_t> der,
                                 const p11::PinCallback& pin) {
    // The PEM label said this is a key reference, so a bad body is an error, not "not ours".
    auto text = uri_pem::decode_der(der);
    if (!text) {
        return text.error();
    }
    auto parsed = uri::parse(text.value());
    if (!parsed) {
        return Error(Code::InvalidArgument,
                     "key-reference PEM holds a malformed PKCS#11 URI: " + parsed.error.message);
    }
    auto object = ctx.library().find_private_key(parsed.uri.value(), pin);
    if (!object) {
        return object.error().with_context("loading the key-reference PEM");
    }
    // Here too, so the reason survives the file: store (see the header).
    if (const auto family = key_type_family(object.value()->key_type())) {
        if (auto r = require_offered(ctx, *family, object.value()->describe()); !r) {
            return r.error().with_context("loading the key-reference PEM");
        }
    }
    return ok();
}

Result<DecodedKey> decode_key_reference(ProviderContext& ctx, std::span<const std::uint8_t> der,
                                        KeyKind wanted, const p11::PinCallback& pin) {
    // Any DER input reaches this decoder (OpenSSL tries every DER-to-key decoder in turn), so
    // a structure that is not a key reference is declined silently.
    auto text = uri_pem::decode_der(der);
    if (!text) {
        return DecodedKey{};
    }
    auto parsed = uri::parse(text.value());
    if (!parsed) {
        return Error(Code::InvalidArgument,
                     "key-reference PEM holds a malformed PKCS#11 URI: " + parsed.error.message);
    }
    const uri::Uri& uri = parsed.uri.value();
    auto object = ctx.library().find_private_key(uri, pin);
    if (!object) {
        return object.error().with_context("loading the key-reference PEM");
    }
    if (!key_type_fits(object.value()->key_type(), wanted)) {
        return DecodedKey{DecodedKey::Status::OtherKind, nullptr};
    }
    auto key = Key::from_token(ctx, std::move(object).value());
    if (!key) {
        return key.error().with_context("loading the key-reference PEM");
    }
    if (key.value()->kind() != wanted) {
        return DecodedKey{DecodedKey::Status::OtherKind, nullptr};
    }
    if (auto r = require_offered(ctx, key_family(wanted), key.value()->describe()); !r) {
        return r.error().with_context("loading the key-reference PEM");
    }
    return DecodedKey{DecodedKey::Status::Loaded, std::move(key).value()};
}

} // namespace hsmp::ops
