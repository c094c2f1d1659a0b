// The store, encoders and decoders registered in-process (OSSL_PROVIDER_add_builtin into a
// private library context) against the fake PKCS#11 module, driven through the same OpenSSL
// APIs applications use: OSSL_STORE, OSSL_ENCODER, PEM_write/read_bio_PrivateKey. The fake's
// default state (tests/fakes/fake_control.h) has token "fake-token" with key pairs "rsa" and
// "ec", two private keys labelled "dup", and a certificate "rsa".
#include "abi/algorithms.hpp"
#include "ossl_util.hpp"
#include "temp_path.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/store.h>
#include <openssl/x509.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

extern "C" int OSSL_provider_init(const OSSL_CORE_HANDLE* handle, const OSSL_DISPATCH* in,
                                  const OSSL_DISPATCH** out, void** provctx) noexcept;

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

using hsmp::test::drain_errors;

namespace {

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

struct Loaded {
    std::vector<EVP_PKEY*> private_keys;
    std::vector<EVP_PKEY*> public_keys;
    std::vector<X509*> certificates;
    bool opened = false;
    bool error = false;
    Loaded() = default;
    Loaded(const Loaded&) = delete;
    Loaded& operator=(const Loaded&) = delete;
    Loaded(Loaded&& o) noexcept
        : private_keys(std::move(o.private_keys)), public_keys(std::move(o.public_keys)),
          certificates(std::move(o.certificates)), opened(o.opened), error(o.error) {
        o.private_keys.clear();
        o.public_keys.clear();
        o.certificates.clear();
    }
    Loaded& operator=(Loaded&&) = delete;
    ~Loaded() {
        for (EVP_PKEY* k : private_keys) {
            EVP_PKEY_free(k);
        }
        for (EVP_PKEY* k : public_keys) {
            EVP_PKEY_free(k);
        }
        for (X509* c : certificates) {
            X509_free(c);
        }
    }
};

class StoreCodec : public ::testing::Test {
protected:
    void SetUp() override {
        const std::string path = hsmp::test::private_temp_path("store-codec.cnf");
        std::ofstream(path) << "config_diagnostics = 1\nopenssl_conf = init\n"
                               "[init]\nproviders = prov\n"
                               "[prov]\npkcs11 = p11\ndefault = def\n[def]\nactivate = 1\n"
                               "[p11]\nactivate = 1\n"
                               "pkcs11-module-path = " HSMP_FAKE_SO "\n"
                               "pkcs11-module-token-pin = 1234\n";
        libctx = OSSL_LIB_CTX_new();
        ASSERT_NE(libctx, nullptr);
        ASSERT_EQ(OSSL_PROVIDER_add_builtin(libctx, "pkcs11", &OSSL_provider_init), 1);
        setenv("OPENSSL_CONF", path.c_str(), 1);
        ERR_clear_error();
        ASSERT_EQ(OSSL_LIB_CTX_load_config(libctx, path.c_str()), 1) << drain_errors();
        prov = OSSL_PROVIDER_load(libctx, "pkcs11");
        ASSERT_NE(prov, nullptr) << drain_errors();
        // The configuration activates default too; loading it explicitly as well keeps the
        // fixture independent of the order in which OpenSSL 3.0 activates configured providers.
        deflt = OSSL_PROVIDER_load(libctx, "default");
        ASSERT_NE(deflt, nullptr) << drain_errors();
    }
    void TearDown() override {
        if (prov != nullptr) {
            OSSL_PROVIDER_unload(prov);
        }
        if (deflt != nullptr) {
            OSSL_PROVIDER_unload(deflt);
        }
        OSSL_LIB_CTX_free(libctx);
        unsetenv("OPENSSL_CONF");
        ERR_clear_error();
    }

    Loaded load(const std::string& uri, int expect = 0) {
        Loaded out;
        OSSL_STORE_CTX* store = OSSL_STORE_open_ex(uri.c_str(), libctx, nullptr, nullptr, nullptr,
                                                   nullptr, nullptr, nullptr);
        if (store == nullptr) {
            return out;
        }
        out.opened = true;
        if (expect != 0) {
            EXPECT_EQ(OSSL_STORE_expect(store, expect), 1);
        }
        for (int guard = 0; guard < 100 && OSSL_STORE_eof(store) == 0; ++guard) {
            OSSL_STORE_INFO* info = OSSL_STORE_load(store);
            if (info == nullptr) {
                out.error = out.error || OSSL_STORE_error(store) != 0;
                continue;
            }
            switch (OSSL_STORE_INFO_get_type(info)) {
            case OSSL_STORE_INFO_PKEY:
                out.private_keys.push_back(OSSL_STORE_INFO_get1_PKEY(info));
                break;
            case OSSL_STORE_INFO_PUBKEY:
                out.public_keys.push_back(OSSL_STORE_INFO_get1_PUBKEY(info));
                break;
            case OSSL_STORE_INFO_CERT:
                out.certificates.push_back(OSSL_STORE_INFO_get1_CERT(info));
                break;
            default:
                break;
            }
            OSSL_STORE_INFO_free(info);
        }
        EXPECT_EQ(OSSL_STORE_eof(store), 1);
        OSSL_STORE_close(store);
        return out;
    }

    // The one private key a URI names, or nullptr.
    EVP_PKEY* private_key(const std::string& uri) {
        Loaded l = load(uri, OSSL_STORE_INFO_PKEY);
        if (l.private_keys.size() != 1) {
            return nullptr;
        }
        EVP_PKEY* k = l.private_keys.front();
        l.private_keys.clear();
        return k;
    }

    OSSL_LIB_CTX* libctx = nullptr;
    OSSL_PROVIDER* prov = nullptr;
    OSSL_PROVIDER* deflt = nullptr;
};

TEST_F(StoreCodec, ListsPrivateKeysPublicKeysAndCertificates) {
    Loaded all = load("pkcs11:token=fake-token");
    ASSERT_TRUE(all.opened) << drain_errors();
    EXPECT_FALSE(all.error) << drain_errors();
    EXPECT_EQ(all.private_keys.size(), 4U); // rsa, ec, dup, dup
    EXPECT_EQ(all.public_keys.size(), 2U);  // rsa, ec
    EXPECT_EQ(all.certificates.size(), 1U); // rsa
    for (EVP_PKEY* k : all.private_keys) {
        EXPECT_STREQ(OSSL_PROVIDER_get0_name(EVP_PKEY_get0_provider(k)), "pkcs11");
    }
}

TEST_F(StoreCodec, ExpectNarrowsTheSearch) {
    Loaded certs = load("pkcs11:token=fake-token", OSSL_STORE_INFO_CERT);
    EXPECT_EQ(certs.certificates.size(), 1U);
    EXPECT_TRUE(certs.private_keys.empty());
    Loaded keys = load("pkcs11:token=fake-token", OSSL_STORE_INFO_PKEY);
    EXPECT_EQ(keys.private_keys.size(), 4U);
    EXPECT_TRUE(keys.certificates.empty());
}

TEST_F(StoreCodec, CertificateAndKeyMatch) {
    Loaded certs = load("pkcs11:token=fake-token;object=rsa;type=cert");
    ASSERT_EQ(certs.certificates.size(), 1U) << drain_errors();
    EVP_PKEY* key = private_key("pkcs11:token=fake-token;object=rsa;type=private");
    ASSERT_NE(key, nullptr) << drain_errors();
    EXPECT_EQ(X509_check_private_key(certs.certificates.front(), key), 1) << drain_errors();
    EVP_PKEY_free(key);
}

TEST_F(StoreCodec, MalformedUriFailsAtOpenWithItsOffset) {
    Loaded l = load("pkcs11:token=fake-token;objct=x");
    EXPECT_FALSE(l.opened);
    EXPECT_THAT(drain_errors(), HasSubstr("unknown attribute \"objct\" at offset 24"));
}

TEST_F(StoreCodec, NoSuchObjectEndsTheListingAndSaysWhy) {
    Loaded l = load("pkcs11:token=fake-token;object=nope;type=private", OSSL_STORE_INFO_PKEY);
    ASSERT_TRUE(l.opened);
    EXPECT_TRUE(l.private_keys.empty());
    EXPECT_THAT(drain_errors(),
                HasSubstr("no private key matches pkcs11:token=fake-token;object=nope"));
}

TEST_F(StoreCodec, AmbiguousPrivateKeyIsRefused) {
    Loaded l = load("pkcs11:token=fake-token;object=dup;type=private", OSSL_STORE_INFO_PKEY);
    EXPECT_TRUE(l.private_keys.empty());
    EXPECT_TRUE(l.error);
    EXPECT_THAT(drain_errors(), HasSubstr("matches 2 private keys"));
}

TEST_F(StoreCodec, PinNeverAppearsInMessages) {
    Loaded l = load("pkcs11:token=fake-token;object=nope;type=private?pin-value=s3cret",
                    OSSL_STORE_INFO_PKEY);
    EXPECT_THAT(drain_errors(), Not(HasSubstr("s3cret")));
}

TEST_F(StoreCodec, PublicKeyEncodingIsTheDefaultProvidersBytes) {
    for (const char* name : {"ec", "rsa"}) {
        EVP_PKEY* key =
            private_key(std::string("pkcs11:token=fake-token;type=private;object=") + name);
        ASSERT_NE(key, nullptr) << drain_errors();
        unsigned char* ours = nullptr;
        const int ours_len = i2d_PUBKEY(key, &ours);
        ASSERT_GT(ours_len, 0) << drain_errors();
        // Decode with the default provider and encode again there.
        const unsigned char* p = ours;
        EVP_PKEY* soft = d2i_PUBKEY_ex(nullptr, &p, ours_len, libctx, "provider=default");
        ASSERT_NE(soft, nullptr);
        unsigned char* theirs = nullptr;
        const int theirs_len = i2d_PUBKEY(soft, &theirs);
        ASSERT_EQ(ours_len, theirs_len);
        EXPECT_EQ(std::string(ours, ours + ours_len), std::string(theirs, theirs + theirs_len));
        EXPECT_EQ(EVP_PKEY_eq(key, soft), 1);
        BIO* a = BIO_new(BIO_s_mem());
        BIO* b = BIO_new(BIO_s_mem());
        ASSERT_EQ(PEM_write_bio_PUBKEY(a, key), 1);
        ASSERT_EQ(PEM_write_bio_PUBKEY(b, soft), 1);
        EXPECT_EQ(bio_text(a), bio_text(b));
        BIO_free(a);
        BIO_free(b);
        OPENSSL_free(ours);
        OPENSSL_free(theirs);
        EVP_PKEY_free(soft);
        EVP_PKEY_free(key);
    }
}

TEST_F(StoreCodec, TextShowsTheUriAndNoPrivateParts) {
    EVP_PKEY* key = private_key("pkcs11:token=fake-token;object=ec;type=private");
    ASSERT_NE(key, nullptr) << drain_errors();
    BIO* out = BIO_new(BIO_s_mem());
    ASSERT_EQ(EVP_PKEY_print_private(out, key, 0, nullptr), 1) << drain_errors();
    const std::string text = bio_text(out);
    EXPECT_THAT(text, HasSubstr("URI: pkcs11:"));
    EXPECT_THAT(text, HasSubstr("object=ec"));
    EXPECT_THAT(text, HasSubstr("pub:"));
    EXPECT_THAT(text, Not(HasSubstr("priv:")));
    BIO_free(out);
    EVP_PKEY_free(key);
}

// OpenSSL 3.0 fetches the default provider's keymgmt first for a key reference and copies
// the key over if the store lets it; a copy loses the URI. Token public keys stay ours, so
// their text (storeutl -text, EVP_PKEY_print_public) names them, and their SPKI is still
// the default provider's bytes.
TEST_F(StoreCodec, PublicKeysStayWithTheProviderAndPrintTheirUri) {
    Loaded l = load("pkcs11:token=fake-token;type=public");
    ASSERT_EQ(l.public_keys.size(), 2U) << drain_errors();
    EXPECT_EQ(ERR_peek_error(), 0UL) << drain_errors();
    for (EVP_PKEY* key : l.public_keys) {
        EXPECT_STREQ(OSSL_PROVIDER_get0_name(EVP_PKEY_get0_provider(key)), "pkcs11");
        BIO* out = BIO_new(BIO_s_mem());
        ASSERT_EQ(EVP_PKEY_print_public(out, key, 0, nullptr), 1) << drain_errors();
        const std::string text = bio_text(out);
        EXPECT_THAT(text, HasSubstr("URI: pkcs11:"));
        EXPECT_THAT(text, HasSubstr("type=public"));
        EXPECT_THAT(text, Not(HasSubstr("pin-")));
        BIO_free(out);
        unsigned char* der = nullptr;
        const int len = i2d_PUBKEY(key, &der);
        ASSERT_GT(len, 0) << drain_errors();
        const unsigned char* p = der;
        EVP_PKEY* soft = d2i_PUBKEY_ex(nullptr, &p, len, libctx, "provider=default");
        ASSERT_NE(soft, nullptr) << drain_errors();
        unsigned char* theirs = nullptr;
        const int theirs_len = i2d_PUBKEY(soft, &theirs);
        EXPECT_EQ(std::string(der, der + len), std::string(theirs, theirs + theirs_len));
        OPENSSL_free(theirs);
        OPENSSL_free(der);
        EVP_PKEY_free(soft);
    }
}

TEST_F(StoreCodec, KeyReferencePemRoundTrips) {
    EVP_PKEY* key = private_key("pkcs11:token=fake-token;object=ec;type=private");
    ASSERT_NE(key, nullptr) << drain_errors();
    BIO* out = BIO_new(BIO_s_mem());
    ASSERT_EQ(PEM_write_bio_PrivateKey_ex(out, key, nullptr, nullptr, 0, nullptr, nullptr, libctx,
                                          nullptr),
              1)
        << drain_errors();
    const std::string pem = bio_text(out);
    EXPECT_THAT(pem, StartsWith("-----BEGIN PKCS#11 PROVIDER URI-----\n"));
    EVP_PKEY* back = PEM_read_bio_PrivateKey_ex(out, nullptr, nullptr, nullptr, libctx, nullptr);
    ASSERT_NE(back, nullptr) << drain_errors();
    EXPECT_STREQ(OSSL_PROVIDER_get0_name(EVP_PKEY_get0_provider(back)), "pkcs11");
    EXPECT_EQ(EVP_PKEY_eq(key, back), 1);
    EXPECT_EQ(ERR_peek_error(), 0UL) << drain_errors();
    EVP_PKEY_free(back);
    BIO_free(out);
    EVP_PKEY_free(key);
}

TEST_F(StoreCodec, PrivateDerIsRefused) {
    EVP_PKEY* key = private_key("pkcs11:token=fake-token;object=rsa;type=private");
    ASSERT_NE(key, nullptr) << drain_errors();
    BIO* out = BIO_new(BIO_s_mem());
    OSSL_ENCODER_CTX* ectx =
        OSSL_ENCODER_CTX_new_for_pkey(key, EVP_PKEY_KEYPAIR, "DER", "PrivateKeyInfo", nullptr);
    ASSERT_NE(ectx, nullptr);
    EXPECT_NE(OSSL_ENCODER_to_bio(ectx, out), 1);
    EXPECT_THAT(drain_errors(), HasSubstr("private key material cannot be exported"));
    EXPECT_EQ(bio_text(out), "");
    OSSL_ENCODER_CTX_free(ectx);
    BIO_free(out);
    EVP_PKEY_free(key);
}

// The signature name this provider's keymgmt reports for its `keymgmt` keys
// (OSSL_FUNC_keymgmt_query_operation_name), read from the dispatch table OpenSSL gets.
const char* signature_name_for(const char* keymgmt) {
    for (const OSSL_ALGORITHM* a = hsmp::abi::keymgmt_algorithms(hsmp::ops::FamilySet::all());
         a->algorithm_names; ++a) {
        const std::size_t n = std::strlen(keymgmt);
        if (std::strncmp(a->algorithm_names, keymgmt, n) != 0 ||
            (a->algorithm_names[n] != ':' && a->algorithm_names[n] != '\0')) {
            continue;
        }
        for (const OSSL_DISPATCH* d = a->implementation; d->function_id != 0; ++d) {
            if (d->function_id == OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME) {
                return OSSL_FUNC_keymgmt_query_operation_name(d)(OSSL_OP_SIGNATURE);
            }
        }
    }
    return nullptr;
}

// EVP_DigestSignInit_ex first fetches the name a key's keymgmt reports with the caller's
// properties, and offers the key to whichever provider answered; only when that provider
// cannot take the key does it use the key's own. Token keys report a name only this
// provider implements, so the first fetch lands here and no export to the default provider
// is attempted for every signature. Signing leaves nothing on the error queue.
TEST_F(StoreCodec, TokenKeysSignUnderANameOnlyThisProviderOffers) {
    for (const auto& [object, keymgmt] : {std::pair{"ec", "EC"}, std::pair{"rsa", "RSA"}}) {
        const char* name = signature_name_for(keymgmt);
        ASSERT_NE(name, nullptr) << keymgmt;
        EVP_SIGNATURE* first = EVP_SIGNATURE_fetch(libctx, name, nullptr);
        ASSERT_NE(first, nullptr) << name << ": " << drain_errors();
        EXPECT_EQ(EVP_SIGNATURE_get0_provider(first), prov) << name;
        EVP_SIGNATURE_free(first);
        ERR_set_mark();
        EVP_SIGNATURE* elsewhere = EVP_SIGNATURE_fetch(libctx, name, "provider!=pkcs11");
        ERR_pop_to_mark();
        EXPECT_EQ(elsewhere, nullptr) << name << " is offered by another provider";
        EVP_SIGNATURE_free(elsewhere);

        EVP_PKEY* key =
            private_key(std::string("pkcs11:token=fake-token;type=private;object=") + object);
        ASSERT_NE(key, nullptr) << drain_errors();
        ERR_clear_error();
        const unsigned char msg[] = "routed";
        unsigned char sig[512];
        size_t siglen = sizeof sig;
        EVP_MD_CTX* mctx = EVP_MD_CTX_new();
        EVP_PKEY_CTX* pctx = nullptr;
        ASSERT_EQ(EVP_DigestSignInit_ex(mctx, &pctx, "SHA256", libctx, nullptr, key, nullptr), 1)
            << drain_errors();
        EXPECT_EQ(EVP_PKEY_CTX_get0_provider(pctx), prov);
        EXPECT_EQ(ERR_peek_error(), 0UL) << drain_errors();
        ASSERT_EQ(EVP_DigestSign(mctx, sig, &siglen, msg, sizeof msg), 1) << drain_errors();
        EXPECT_EQ(ERR_peek_error(), 0UL) << drain_errors();
        EVP_MD_CTX_free(mctx);
        // The canonical name still reaches the same implementation when asked for.
        EVP_MD_CTX* vctx = EVP_MD_CTX_new();
        ASSERT_EQ(EVP_DigestVerifyInit_ex(vctx, nullptr, "SHA256", libctx, nullptr, key, nullptr),
                  1)
            << drain_errors();
        EXPECT_EQ(EVP_DigestVerify(vctx, sig, siglen, msg, sizeof msg), 1) << drain_errors();
        EVP_MD_CTX_free(vctx);
        EVP_PKEY_free(key);
    }
    EVP_SIGNATURE* canonical = EVP_SIGNATURE_fetch(libctx, "ECDSA", "provider=pkcs11");
    EXPECT_NE(canonical, nullptr) << drain_errors();
    EVP_SIGNATURE_free(canonical);
}

TEST_F(StoreCodec, KeyReferenceToAMissingKeyNamesIt) {
    const std::string pem = "-----BEGIN PKCS#11 PROVIDER URI-----\n"
                            "ME0aGVBLQ1MjMTEgUHJvdmlkZXIgVVJJIHYxLjAMMHBrY3MxMTp0b2tlbj1mYWtl\n"
                            "LXRva2VuO29iamVjdD1ub3BlO3R5cGU9cHJpdmF0ZQ==\n"
                            "-----END PKCS#11 PROVIDER URI-----\n";
    BIO* in = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey_ex(in, nullptr, nullptr, nullptr, libctx, nullptr);
    EXPECT_EQ(key, nullptr);
    EXPECT_THAT(drain_errors(),
                HasSubstr("no private key matches pkcs11:token=fake-token;object=nope"));
    BIO_free(in);
}

TEST_F(StoreCodec, MalformedKeyReferenceIsReportedNotCrashed) {
    const std::string pem = "-----BEGIN PKCS#11 PROVIDER URI-----\n"
                            "MAMCAQA=\n"
                            "-----END PKCS#11 PROVIDER URI-----\n";
    BIO* in = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey_ex(in, nullptr, nullptr, nullptr, libctx, nullptr);
    EXPECT_EQ(key, nullptr);
    EXPECT_THAT(drain_errors(), HasSubstr("malformed DER"));
    BIO_free(in);
}

TEST_F(StoreCodec, SoftwareKeysKeepTheDefaultEncoders) {
    EVP_PKEY* soft = EVP_PKEY_Q_keygen(libctx, "provider=default", "EC", "P-256");
    ASSERT_NE(soft, nullptr);
    BIO* out = BIO_new(BIO_s_mem());
    ASSERT_EQ(PEM_write_bio_PrivateKey_ex(out, soft, nullptr, nullptr, 0, nullptr, nullptr, libctx,
                                          nullptr),
              1)
        << drain_errors();
    EXPECT_THAT(bio_text(out), StartsWith("-----BEGIN PRIVATE KEY-----"));
    EVP_PKEY* back = PEM_read_bio_PrivateKey_ex(out, nullptr, nullptr, nullptr, libctx, nullptr);
    ASSERT_NE(back, nullptr) << drain_errors();
    EXPECT_EQ(EVP_PKEY_eq(soft, back), 1);
    EVP_PKEY_free(back);
    BIO_free(out);
    EVP_PKEY_free(soft);
}

} // namespace
