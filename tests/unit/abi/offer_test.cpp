// Algorithms offered according to the tokens' mechanism lists (ops/offer.hpp): the provider
// registered in-process (OSSL_PROVIDER_add_builtin) against the fake PKCS#11 module, whose
// mechanisms each test restricts before the provider is loaded, and asked through the same
// fetches OpenSSL makes (EVP_SIGNATURE_fetch, EVP_KEYMGMT_fetch, OSSL_STORE, EVP_DigestSign).
// The fake's default tokens offer RSA PKCS#1 v1.5 and PSS (raw and with SHA-2) and ECDSA
// (raw and with SHA-256), with CKF_SIGN, and no CKM_EDDSA.
#include "fake_control.h"
#include "ossl_util.hpp"
#include "temp_path.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/store.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <initializer_list>
#include <string>

extern "C" int OSSL_provider_init(const OSSL_CORE_HANDLE* handle, const OSSL_DISPATCH* in,
                                  const OSSL_DISPATCH** out, void** provctx) noexcept;

using ::testing::HasSubstr;

using hsmp::test::drain_errors;

namespace {

constexpr unsigned long kAllTokens = 0;
constexpr unsigned long kFakeToken = 7;   // "fake-token": rsa, ec, dup keys
constexpr unsigned long kOtherToken = 42; // "other-token": other-ec

FakeControl& control() {
    static FakeControl c(HSMP_FAKE_SO);
    return c;
}

class Offer : public ::testing::Test {
protected:
    void SetUp() override {
        control().fake_reset();
        ERR_clear_error();
    }
    void TearDown() override {
        if (prov != nullptr) {
            OSSL_PROVIDER_unload(prov);
        }
        if (deflt != nullptr) {
            OSSL_PROVIDER_unload(deflt);
        }
        OSSL_LIB_CTX_free(libctx);
        control().fake_reset();
        ERR_clear_error();
    }

    /// Loads default and pkcs11 (against the fake) into a fresh library context, after the
    /// test has shaped the fake's mechanisms.
    void load() {
        const std::string path = hsmp::test::private_temp_path("offer.cnf");
        std::ofstream(path) << "openssl_conf = init\n[init]\nproviders = prov\n"
                               "[prov]\npkcs11 = p11\ndefault = def\n[def]\nactivate = 1\n"
                               "[p11]\nactivate = 1\n"
                               "pkcs11-module-path = " HSMP_FAKE_SO "\n"
                               "pkcs11-module-token-pin = 1234\n";
        libctx = OSSL_LIB_CTX_new();
        ASSERT_NE(libctx, nullptr);
        ASSERT_EQ(OSSL_PROVIDER_add_builtin(libctx, "pkcs11", &OSSL_provider_init), 1);
        ASSERT_EQ(OSSL_LIB_CTX_load_config(libctx, path.c_str()), 1) << drain_errors();
        deflt = OSSL_PROVIDER_load(libctx, "default");
        ASSERT_NE(deflt, nullptr) << drain_errors();
        prov = OSSL_PROVIDER_load(libctx, "pkcs11");
        ASSERT_NE(prov, nullptr) << drain_errors();
    }

    bool signature_offered(const char* name) {
        EVP_SIGNATURE* s = EVP_SIGNATURE_fetch(libctx, name, "provider=pkcs11");
        EVP_SIGNATURE_free(s);
        return s != nullptr;
    }
    bool keymgmt_offered(const char* name) {
        EVP_KEYMGMT* k = EVP_KEYMGMT_fetch(libctx, name, "provider=pkcs11");
        EVP_KEYMGMT_free(k);
        return k != nullptr;
    }
    void expect_offered(std::initializer_list<const char*> names, bool offered) {
        for (const char* name : names) {
            EXPECT_EQ(signature_offered(name), offered) << "signature " << name;
        }
    }

    EVP_PKEY* private_key(const std::string& uri) {
        return hsmp::test::load_private_key(libctx, uri);
    }

    /// Signs with `key` (SHA-256) and verifies the signature with the default provider.
    void expect_signs(EVP_PKEY* key) {
        const unsigned char msg[] = "algorithms offered by mechanism";
        EVP_MD_CTX* md = EVP_MD_CTX_new();
        ASSERT_EQ(EVP_DigestSignInit_ex(md, nullptr, "SHA256", libctx, nullptr, key, nullptr), 1)
            << drain_errors();
        size_t len = 0;
        ASSERT_EQ(EVP_DigestSign(md, nullptr, &len, msg, sizeof msg), 1) << drain_errors();
        std::string sig(len, '\0');
        auto* sigp = reinterpret_cast<unsigned char*>(sig.data());
        ASSERT_EQ(EVP_DigestSign(md, sigp, &len, msg, sizeof msg), 1) << drain_errors();
        EVP_MD_CTX_free(md);
        // Verified by the default provider, from a copy of the public key made there.
        unsigned char* der = nullptr;
        const int der_len = i2d_PUBKEY(key, &der);
        ASSERT_GT(der_len, 0) << drain_errors();
        const unsigned char* p = der;
        EVP_PKEY* pub = d2i_PUBKEY_ex(nullptr, &p, der_len, libctx, "provider=default");
        OPENSSL_free(der);
        ASSERT_NE(pub, nullptr) << drain_errors();
        md = EVP_MD_CTX_new();
        ASSERT_EQ(EVP_DigestVerifyInit_ex(md, nullptr, "SHA256", libctx, "provider=default", pub,
                                          nullptr),
                  1)
            << drain_errors();
        EXPECT_EQ(EVP_DigestVerify(md, sigp, len, msg, sizeof msg), 1) << drain_errors();
        EVP_MD_CTX_free(md);
        EVP_PKEY_free(pub);
    }

    OSSL_LIB_CTX* libctx = nullptr;
    OSSL_PROVIDER* prov = nullptr;
    OSSL_PROVIDER* deflt = nullptr;
};

TEST_F(Offer, LoadingTheProviderAsksNoToken) {
    load();
    EXPECT_EQ(control().fake_call_count("C_Initialize"), 0UL);
    EXPECT_EQ(control().fake_call_count("C_GetMechanismList"), 0UL);
    // The first fetch asks every token once; OpenSSL keeps the answer.
    EXPECT_TRUE(signature_offered("RSA"));
    const unsigned long asked = control().fake_call_count("C_GetMechanismList");
    EXPECT_EQ(asked, 2UL * 2UL); // two tokens, length then list
    EXPECT_TRUE(keymgmt_offered("EC"));
    EXPECT_TRUE(signature_offered("ECDSA"));
    EXPECT_EQ(control().fake_call_count("C_GetMechanismList"), asked);
}

TEST_F(Offer, AFamilyWithoutAMechanismIsNotOffered) {
    load();
    expect_offered({"RSA", "RSA-PSS", "ECDSA"}, true);
    // No token of the fake has CKM_EDDSA.
    expect_offered({"ED25519", "ED448"}, false);
    EXPECT_FALSE(keymgmt_offered("ED25519"));
    EXPECT_FALSE(keymgmt_offered("ED448"));
    EXPECT_TRUE(keymgmt_offered("RSA"));
    EXPECT_TRUE(keymgmt_offered("RSA-PSS"));
    EXPECT_TRUE(keymgmt_offered("EC"));
    // The default provider still serves the name: software Ed25519 keys keep working.
    EVP_PKEY* soft = EVP_PKEY_Q_keygen(libctx, nullptr, "ED25519");
    ASSERT_NE(soft, nullptr) << drain_errors();
    EXPECT_STREQ(OSSL_PROVIDER_get0_name(EVP_PKEY_get0_provider(soft)), "default");
    EVP_PKEY_free(soft);
}

TEST_F(Offer, EcdsaMissingOnEveryTokenTakesEcAwayWithANamedError) {
    for (const CK_MECHANISM_TYPE m : {CKM_ECDSA, CKM_ECDSA_SHA256}) {
        control().fake_remove_mechanism(kAllTokens, m);
    }
    load();
    EXPECT_FALSE(signature_offered("ECDSA"));
    EXPECT_FALSE(keymgmt_offered("EC"));
    expect_offered({"RSA", "RSA-PSS"}, true);
    ERR_clear_error();
    EVP_PKEY* ec = private_key("pkcs11:token=fake-token;object=ec;type=private");
    EXPECT_EQ(ec, nullptr);
    const std::string errors = drain_errors();
    EXPECT_THAT(errors, HasSubstr("does not offer EC keys or signatures"));
    EXPECT_THAT(errors, HasSubstr("CKM_ECDSA"));
    EXPECT_THAT(errors, HasSubstr("object=ec"));
    EVP_PKEY_free(ec);
    // RSA keys of the same token still sign.
    EVP_PKEY* rsa = private_key("pkcs11:token=fake-token;object=rsa;type=private");
    ASSERT_NE(rsa, nullptr) << drain_errors();
    expect_signs(rsa);
    EVP_PKEY_free(rsa);
}

TEST_F(Offer, OneTokenWithTheMechanismIsEnough) {
    for (const CK_MECHANISM_TYPE m : {CKM_ECDSA, CKM_ECDSA_SHA256}) {
        control().fake_remove_mechanism(kFakeToken, m);
    }
    load();
    EXPECT_TRUE(signature_offered("ECDSA"));
    EXPECT_TRUE(keymgmt_offered("EC"));
}

TEST_F(Offer, AMechanismWithoutCkfSignDoesNotCount) {
    for (const CK_MECHANISM_TYPE m : {CKM_ECDSA, CKM_ECDSA_SHA256}) {
        control().fake_set_mechanism_flags(kAllTokens, m, CKF_VERIFY);
    }
    load();
    EXPECT_FALSE(signature_offered("ECDSA"));
    EXPECT_TRUE(signature_offered("RSA"));
}

TEST_F(Offer, PssNeedsAPssMechanismOrRawRsa) {
    for (const CK_MECHANISM_TYPE m : {CKM_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS_PSS}) {
        control().fake_remove_mechanism(kAllTokens, m);
    }
    load();
    EXPECT_FALSE(signature_offered("RSA-PSS"));
    EXPECT_FALSE(keymgmt_offered("RSA-PSS"));
    EXPECT_TRUE(signature_offered("RSA"));
    EXPECT_TRUE(keymgmt_offered("RSA"));
}

// Per-token choice of mechanism keeps working: with CKM_RSA_PKCS gone the token signs with
// CKM_SHA256_RSA_PKCS over the whole message, and RSA is still offered.
TEST_F(Offer, CombinedMechanismsAloneKeepRsaOfferedAndSigning) {
    control().fake_remove_mechanism(kAllTokens, CKM_RSA_PKCS);
    load();
    EXPECT_TRUE(signature_offered("RSA"));
    EVP_PKEY* rsa = private_key("pkcs11:token=fake-token;object=rsa;type=private");
    ASSERT_NE(rsa, nullptr) << drain_errors();
    control().fake_reset_counts();
    expect_signs(rsa);
    EXPECT_GE(control().fake_call_count("C_SignInit"), 1UL);
    EVP_PKEY_free(rsa);
}

// nginx's model: the master asks (at configuration), workers are forked and inherit the
// answer. A child's first question for another operation makes no PKCS#11 call (none may be
// made in fork handlers or before the child re-initialises), and the child then signs.
TEST_F(Offer, AForkedChildKeepsTheAnswerAndSigns) {
    for (const CK_MECHANISM_TYPE m : {CKM_ECDSA, CKM_ECDSA_SHA256}) {
        control().fake_remove_mechanism(kAllTokens, m);
    }
    load();
    ASSERT_TRUE(signature_offered("RSA")); // the survey, in the parent
    const unsigned long lists = control().fake_call_count("C_GetMechanismList");
    const unsigned long inits = control().fake_call_count("C_Initialize");
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        // Child: no gtest assertions (they would report in the wrong process); exit codes.
        const bool ec = keymgmt_offered("EC"); // first KEYMGMT question
        const bool rsa_kmgmt = keymgmt_offered("RSA");
        const bool no_calls = control().fake_call_count("C_GetMechanismList") == lists &&
                              control().fake_call_count("C_Initialize") == inits;
        EVP_PKEY* rsa = private_key("pkcs11:token=fake-token;object=rsa;type=private");
        bool signed_ok = false;
        if (rsa != nullptr) {
            EVP_MD_CTX* md = EVP_MD_CTX_new();
            const unsigned char msg[] = "child";
            size_t len = 0;
            signed_ok =
                EVP_DigestSignInit_ex(md, nullptr, "SHA256", libctx, nullptr, rsa, nullptr) == 1 &&
                EVP_DigestSign(md, nullptr, &len, msg, sizeof msg) == 1;
            std::string sig(len, '\0');
            signed_ok =
                signed_ok && EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &len,
                                            msg, sizeof msg) == 1;
            EVP_MD_CTX_free(md);
            EVP_PKEY_free(rsa);
        }
        _exit((ec ? 1 : 0) | (rsa_kmgmt ? 0 : 2) | (no_calls ? 0 : 4) | (signed_ok ? 0 : 8));
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    const int code = WEXITSTATUS(status);
    EXPECT_EQ(code & 1, 0) << "the child offers EC although no token signs with ECDSA";
    EXPECT_EQ(code & 2, 0) << "the child does not offer RSA key management";
    EXPECT_EQ(code & 4, 0) << "the child's question made PKCS#11 calls";
    EXPECT_EQ(code & 8, 0) << "the child could not sign with the token RSA key";
}

// When the module cannot say what it offers, nothing is taken away (and nothing fails).
TEST_F(Offer, ASlotWithoutATokenOffersEverything) {
    control().fake_remove_token(kOtherToken);
    load();
    expect_offered({"RSA", "RSA-PSS", "ECDSA", "ED25519", "ED448"}, true);
    EXPECT_TRUE(keymgmt_offered("ED25519"));
}

TEST_F(Offer, ATokenThatDoesNotAnswerOffersEverything) {
    control().fake_fail("C_GetMechanismList", CKR_DEVICE_ERROR, -1);
    load();
    expect_offered({"RSA", "RSA-PSS", "ECDSA", "ED25519", "ED448"}, true);
}

TEST_F(Offer, AModuleThatCannotInitialiseOffersEverythingAndStillLoads) {
    control().fake_fail("C_Initialize", CKR_GENERAL_ERROR, -1);
    load();
    expect_offered({"RSA", "ECDSA", "ED25519"}, true);
    ERR_clear_error();
}

} // namespace
