#include "ops/keymgmt.hpp"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

namespace hsmp::ops {

namespace {

constexpr int kPrivate = OSSL_KEYMGMT_SELECT_PRIVATE_KEY;
constexpr int kPublic = OSSL_KEYMGMT_SELECT_PUBLIC_KEY;

const char* default_digest(KeyKind kind) {
    switch (kind) {
    case KeyKind::Ed25519:
    case KeyKind::Ed448:
        return ""; // EdDSA hashes internally: no digest is set
    default:
        return "SHA256";
    }
}

} // namespace

bool key_has(const Key& key, int selection) noexcept {
    if ((selection & kPrivate) != 0 && !key.has_private()) {
        return false;
    }
    return true; // public parts and domain parameters are always present
}

Result<void> key_get_params(const Key& key, OSSL_PARAM params[]) {
    // Everything public comes from the software copy of the public key; it cannot hold
    // private components, so a request for "d" or "priv" simply stays unanswered.
    if (EVP_PKEY_get_params(key.public_pkey(), params) != 1) {
        return Error(Code::Internal, "reading the parameters of " + key.describe());
    }
    OSSL_PARAM* p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_MAX_SIZE);
    if (p != nullptr && OSSL_PARAM_set_int(p, key.max_size()) == 0) {
        return Error(Code::Internal, "max-size");
    }
    p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_DEFAULT_DIGEST);
    if (p != nullptr && OSSL_PARAM_set_utf8_string(p, default_digest(key.kind())) == 0) {
        return Error(Code::Internal, "default-digest");
    }
    // Only EdDSA has a mandatory "digest" (none). Answering "" for RSA or EC would tell
    // OpenSSL 3.0 that no digest may be chosen, and req/x509/ca would drop -sha384.
    p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_MANDATORY_DIGEST);
    if (p != nullptr && (key.kind() == KeyKind::Ed25519 || key.kind() == KeyKind::Ed448) &&
        OSSL_PARAM_set_utf8_string(p, "") == 0) {
        return Error(Code::Internal, "mandatory-digest");
    }
    return ok();
}

const std::string* export_refusal(const Key& key, int selection) noexcept {
    if (!key.context().config().allow_export) {
        return &key.export_disabled_refusal();
    }
    // Any selection with the private key is refused, also OpenSSL 3.0's cross-provider
    // OSSL_KEYMGMT_SELECT_ALL: handing out the public half instead would let another
    // provider try to sign with it and fail with a misleading message. OpenSSL then goes the
    // other way (imports the other key's public parts into us) where it only needs to
    // compare keys.
    if ((selection & kPrivate) != 0) {
        return &key.private_export_refusal();
    }
    return nullptr;
}

Result<void> key_export(const Key& key, int selection, OSSL_CALLBACK* cb, void* cbarg) {
    if (const std::string* why = export_refusal(key, selection)) {
        return Error(Code::Unsupported, *why);
    }
    if (selection == 0) {
        return ok();
    }
    OSSL_PARAM* params = nullptr;
    if (EVP_PKEY_todata(key.public_pkey(), EVP_PKEY_PUBLIC_KEY, &params) != 1) {
        return Error(Code::Internal, "exporting the public parts of " + key.describe());
    }
    const int rc = cb(params, cbarg);
    OSSL_PARAM_free(params);
    if (rc == 0) {
        return Error(Code::Internal, "the importer refused the public parts of " + key.describe());
    }
    return ok();
}

Result<std::shared_ptr<Key>> key_import(ProviderContext& ctx, KeyKind kind, int selection,
                                        const OSSL_PARAM params[]) {
    if ((selection & kPrivate) != 0 &&
        (OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_D) != nullptr ||
         OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PRIV_KEY) != nullptr) &&
        (selection & kPublic) == 0) {
        return Error(Code::Unsupported,
                     "importing private keys into the token is not supported yet");
    }
    const char* type = nullptr;
    switch (kind) {
    case KeyKind::Rsa:
        type = "RSA";
        break;
    case KeyKind::RsaPss:
        type = "RSA-PSS";
        break;
    case KeyKind::Ec:
        type = "EC";
        break;
    case KeyKind::Ed25519:
        type = "ED25519";
        break;
    case KeyKind::Ed448:
        type = "ED448";
        break;
    }
    EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new_from_name(ctx.software_libctx(), type, nullptr);
    EVP_PKEY* pkey = nullptr;
    // Only the public parts are taken; private components, if any, are ignored here.
    const int ok_init = pctx != nullptr ? EVP_PKEY_fromdata_init(pctx) : 0;
    const int ok_data = ok_init > 0 ? EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY,
                                                        const_cast<OSSL_PARAM*>(params))
                                    : 0;
    EVP_PKEY_CTX_free(pctx);
    if (ok_data <= 0 || pkey == nullptr) {
        return Error(Code::InvalidArgument,
                     std::string("the imported ") + type + " public parts are not a valid key");
    }
    auto key = Key::from_public(ctx, kind, pkey);
    EVP_PKEY_free(pkey);
    return key;
}

const OSSL_PARAM* key_io_types(KeyKind kind) noexcept {
    static const OSSL_PARAM kRsa[] = {
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, nullptr, 0),
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, nullptr, 0),
        OSSL_PARAM_END,
    };
    static const OSSL_PARAM kEc[] = {
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, nullptr, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0),
        OSSL_PARAM_END,
    };
    static const OSSL_PARAM kEd[] = {
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0),
        OSSL_PARAM_END,
    };
    switch (kind) {
    case KeyKind::Rsa:
    case KeyKind::RsaPss:
        return kRsa;
    case KeyKind::Ec:
        return kEc;
    default:
        return kEd;
    }
}

const OSSL_PARAM* key_gettable_params(KeyKind kind) noexcept {
    static const OSSL_PARAM kRsa[] = {
        OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, nullptr),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, nullptr),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, nullptr),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, nullptr, 0),
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, nullptr, 0),
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, nullptr, 0),
        OSSL_PARAM_END,
    };
    static const OSSL_PARAM kEc[] = {
        OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, nullptr),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, nullptr),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, nullptr),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, nullptr, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, nullptr, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, nullptr, 0),
        OSSL_PARAM_END,
    };
    static const OSSL_PARAM kEd[] = {
        OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, nullptr),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, nullptr),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, nullptr),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, nullptr, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, nullptr, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0),
        OSSL_PARAM_END,
    };
    switch (kind) {
    case KeyKind::Rsa:
    case KeyKind::RsaPss:
        return kRsa;
    case KeyKind::Ec:
        return kEc;
    default:
        return kEd;
    }
}

} // namespace hsmp::ops
