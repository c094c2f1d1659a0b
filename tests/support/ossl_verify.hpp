// Independent verification for tests: builds an OpenSSL public key from a token's public
// attributes and verifies signatures in software, so a test proves the token really signed.
#pragma once

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace hsmp::test {

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

inline PkeyPtr rsa_public_key(const std::vector<std::uint8_t>& modulus,
                              const std::vector<std::uint8_t>& exponent) {
    BIGNUM* n = BN_bin2bn(modulus.data(), static_cast<int>(modulus.size()), nullptr);
    BIGNUM* e = BN_bin2bn(exponent.data(), static_cast<int>(exponent.size()), nullptr);
    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
    OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
    EVP_PKEY* pkey = nullptr;
    if (EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
        pkey = nullptr;
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return {pkey, &EVP_PKEY_free};
}

/// CKA_EC_PARAMS (DER OID) + CKA_EC_POINT (DER OCTET STRING, or the raw point).
inline PkeyPtr ec_public_key(const std::vector<std::uint8_t>& params_der,
                             const std::vector<std::uint8_t>& point_der) {
    const unsigned char* p = params_der.data();
    ASN1_OBJECT* oid = d2i_ASN1_OBJECT(nullptr, &p, static_cast<long>(params_der.size()));
    if (oid == nullptr) {
        return {nullptr, &EVP_PKEY_free};
    }
    const char* group = OBJ_nid2sn(OBJ_obj2nid(oid));
    ASN1_OBJECT_free(oid);
    std::vector<std::uint8_t> point = point_der;
    const unsigned char* q = point_der.data();
    if (ASN1_OCTET_STRING* os =
            d2i_ASN1_OCTET_STRING(nullptr, &q, static_cast<long>(point_der.size()))) {
        point.assign(os->data, os->data + os->length);
        ASN1_OCTET_STRING_free(os);
    }
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(group), 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
    EVP_PKEY* pkey = nullptr;
    if (EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
        pkey = nullptr;
    }
    EVP_PKEY_CTX_free(ctx);
    return {pkey, &EVP_PKEY_free};
}

/// Verifies `sig` over `msg` with SHA-256 (RSA PKCS#1 v1.5 or DER ECDSA).
inline bool verify_sha256(EVP_PKEY* key, const std::vector<std::uint8_t>& msg,
                          const std::vector<std::uint8_t>& sig) {
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    const bool ok =
        EVP_DigestVerifyInit_ex(md, nullptr, "SHA256", nullptr, nullptr, key, nullptr) == 1 &&
        EVP_DigestVerify(md, sig.data(), sig.size(), msg.data(), msg.size()) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

/// PKCS#11 raw ECDSA output (r || s, fixed width) to the DER form OpenSSL verifies.
inline std::vector<std::uint8_t> ecdsa_raw_to_der(const std::vector<std::uint8_t>& raw) {
    const std::size_t half = raw.size() / 2;
    ECDSA_SIG* s = ECDSA_SIG_new();
    ECDSA_SIG_set0(s, BN_bin2bn(raw.data(), static_cast<int>(half), nullptr),
                   BN_bin2bn(raw.data() + half, static_cast<int>(half), nullptr));
    unsigned char* der = nullptr;
    const int len = i2d_ECDSA_SIG(s, &der);
    std::vector<std::uint8_t> out(der, der + (len > 0 ? len : 0));
    OPENSSL_free(der);
    ECDSA_SIG_free(s);
    return out;
}

inline std::vector<std::uint8_t> sha256(const std::vector<std::uint8_t>& msg) {
    std::vector<std::uint8_t> out(32);
    unsigned int len = 0;
    EVP_Digest(msg.data(), msg.size(), out.data(), &len, EVP_sha256(), nullptr);
    return out;
}

} // namespace hsmp::test
