// Key material of the fake token (generated once per process, so fake_reset stays cheap)
// and the attribute sets of its key, public key and certificate objects.
#include "fake_module.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <thread>

namespace fake {
namespace {

// DER OID of prime256v1 / secp256r1 (1.2.840.10045.3.1.7), the CKA_EC_PARAMS value.
const Bytes kP256Oid = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

Pkey must(EVP_PKEY* k, const char* what) {
    if (k == nullptr) {
        // No way to report this through PKCS#11 from a lazy initialiser; a test module
        // that cannot make keys is unusable anyway.
        std::fprintf(stderr, "fake module: cannot generate %s\n", what);
        std::abort();
    }
    return {k, PkeyFree{}};
}

Bytes bn_param(EVP_PKEY* k, const char* name) {
    BIGNUM* bn = nullptr;
    if (EVP_PKEY_get_bn_param(k, name, &bn) != 1) {
        return {};
    }
    Bytes out(static_cast<std::size_t>(BN_num_bytes(bn)));
    BN_bn2bin(bn, out.data());
    BN_free(bn);
    return out;
}

// CKA_EC_POINT: the uncompressed point wrapped in a DER OCTET STRING (2.40 section 2.3.3).
Bytes ec_point(EVP_PKEY* k) {
    std::size_t len = 0;
    EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0, &len);
    Bytes point(len);
    EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size(), &len);
    Bytes out(2 + len);
    out[0] = 0x04; // OCTET STRING, short-form length (a P-256 point is 65 bytes)
    out[1] = static_cast<unsigned char>(len);
    std::copy(point.begin(), point.end(), out.begin() + 2);
    return out;
}

template <typename T, typename F> Bytes der(T* obj, F i2d) {
    const int len = i2d(obj, nullptr);
    if (len <= 0) {
        return {};
    }
    Bytes out(static_cast<std::size_t>(len));
    unsigned char* p = out.data();
    i2d(obj, &p);
    return out;
}

void self_signed(Material& m) {
    X509* x = X509_new();
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 0x1001);
    X509_gmtime_adj(X509_getm_notBefore(x), -86400L);
    X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400);
    X509_NAME* name = X509_get_subject_name(x);
    const auto* cn = reinterpret_cast<const unsigned char*>("hsmp fake rsa");
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, cn, -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_set_pubkey(x, m.rsa.get());
    if (X509_sign(x, m.rsa.get(), EVP_sha256()) <= 0) {
        std::fputs("fake module: cannot sign certificate\n", stderr);
        std::abort();
    }
    m.cert_der = der(x, i2d_X509);
    m.cert_subject = der(X509_get_subject_name(x), i2d_X509_NAME);
    m.cert_issuer = der(X509_get_issuer_name(x), i2d_X509_NAME);
    m.cert_serial = der(X509_get_serialNumber(x), i2d_ASN1_INTEGER);
    X509_free(x);
}

Material generate() {
    Material m;
    // RSA-2048 generation takes ~0.25 s each and every test process pays for it once;
    // the three keys are made in parallel so the wait is that of the slowest.
    const auto rsa = [](Pkey& out) {
        out = must(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048}), "RSA key");
    };
    {
        std::thread dup1(rsa, std::ref(m.dup1));
        std::thread dup2(rsa, std::ref(m.dup2));
        rsa(m.rsa);
        dup1.join();
        dup2.join();
    }
    m.ec = must(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), "EC key");
    m.other_ec = must(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), "EC key");
    self_signed(m);
    return m;
}

bool is_rsa(const Pkey& k) {
    return EVP_PKEY_is_a(k.get(), "RSA") == 1;
}

void common_key(Object& o, const Pkey& key, std::string_view label, const Bytes& id) {
    o.set_bool(CKA_TOKEN, true);
    o.set_bool(CKA_MODIFIABLE, false);
    o.set_string(CKA_LABEL, label);
    o.set_bytes(CKA_ID, id);
    o.set_bool(CKA_LOCAL, true);
    o.set_bool(CKA_DERIVE, false);
    o.set_bytes(CKA_START_DATE, {});
    o.set_bytes(CKA_END_DATE, {});
    o.set_bytes(CKA_SUBJECT, {});
    if (is_rsa(key)) {
        o.set_ulong(CKA_KEY_TYPE, CKK_RSA);
        o.set_ulong(CKA_KEY_GEN_MECHANISM, CKM_RSA_PKCS_KEY_PAIR_GEN);
        o.set_bytes(CKA_MODULUS, bn_param(key.get(), OSSL_PKEY_PARAM_RSA_N));
        o.set_bytes(CKA_PUBLIC_EXPONENT, bn_param(key.get(), OSSL_PKEY_PARAM_RSA_E));
    } else {
        o.set_ulong(CKA_KEY_TYPE, CKK_EC);
        o.set_ulong(CKA_KEY_GEN_MECHANISM, CKM_EC_KEY_PAIR_GEN);
        o.set_bytes(CKA_EC_PARAMS, kP256Oid);
        o.set_bytes(CKA_EC_POINT, ec_point(key.get()));
    }
}

} // namespace

const Material& material() {
    // Generated on first use, not at dlopen: loading the module stays fast.
    static const Material m = generate();
    return m;
}

Object make_private(const Pkey& key, std::string_view label, const Bytes& id) {
    Object o;
    o.set_ulong(CKA_CLASS, CKO_PRIVATE_KEY);
    common_key(o, key, label, id);
    o.set_bool(CKA_PRIVATE, true);
    o.set_bool(CKA_SENSITIVE, true);
    o.set_bool(CKA_ALWAYS_SENSITIVE, true);
    o.set_bool(CKA_EXTRACTABLE, false);
    o.set_bool(CKA_NEVER_EXTRACTABLE, true);
    o.set_bool(CKA_SIGN, true);
    o.set_bool(CKA_SIGN_RECOVER, false);
    o.set_bool(CKA_UNWRAP, false);
    o.set_bool(CKA_WRAP_WITH_TRUSTED, false);
    o.set_bool(CKA_ALWAYS_AUTHENTICATE, false);
    if (is_rsa(key)) {
        o.set_bool(CKA_DECRYPT, true);
        o.sensitive = {CKA_PRIVATE_EXPONENT, CKA_PRIME_1,    CKA_PRIME_2,
                       CKA_EXPONENT_1,       CKA_EXPONENT_2, CKA_COEFFICIENT};
    } else {
        o.set_bool(CKA_DECRYPT, false);
        o.sensitive = {CKA_VALUE};
    }
    o.pkey = key;
    return o;
}

Object make_public(const Pkey& key, std::string_view label, const Bytes& id) {
    Object o;
    o.set_ulong(CKA_CLASS, CKO_PUBLIC_KEY);
    common_key(o, key, label, id);
    o.set_bool(CKA_PRIVATE, false);
    o.set_bool(CKA_VERIFY, true);
    o.set_bool(CKA_VERIFY_RECOVER, false);
    o.set_bool(CKA_WRAP, false);
    o.set_bool(CKA_TRUSTED, false);
    if (is_rsa(key)) {
        o.set_bool(CKA_ENCRYPT, true);
        o.set_ulong(CKA_MODULUS_BITS, static_cast<CK_ULONG>(EVP_PKEY_get_bits(key.get())));
    } else {
        o.set_bool(CKA_ENCRYPT, false);
    }
    return o;
}

Object make_certificate(const Material& m, std::string_view label, const Bytes& id) {
    Object o;
    o.set_ulong(CKA_CLASS, CKO_CERTIFICATE);
    o.set_ulong(CKA_CERTIFICATE_TYPE, CKC_X_509);
    o.set_bool(CKA_TOKEN, true);
    o.set_bool(CKA_PRIVATE, false);
    o.set_bool(CKA_MODIFIABLE, true);
    o.set_bool(CKA_TRUSTED, false);
    o.set_ulong(CKA_CERTIFICATE_CATEGORY, 0);
    o.set_string(CKA_LABEL, label);
    o.set_bytes(CKA_ID, id);
    o.set_bytes(CKA_VALUE, m.cert_der);
    o.set_bytes(CKA_SUBJECT, m.cert_subject);
    o.set_bytes(CKA_ISSUER, m.cert_issuer);
    o.set_bytes(CKA_SERIAL_NUMBER, m.cert_serial);
    return o;
}

} // namespace fake
