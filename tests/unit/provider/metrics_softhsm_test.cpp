// The metrics end to end, the way nginx gets them: the built pkcs11.so loaded from an
// openssl.cnf section into this process, a SoftHSM2 key loaded once (as nginx's master
// does at configuration time), signatures made here and in forked children (the
// workers), one signature the token refuses, one login refused for a wrong PIN, and the
// text fetched through OSSL_PROVIDER_get_params("pkcs11-metrics") with the host's
// two-call protocol, checked against the exact counts and the strict format checker.
//
// The wrong PIN goes to the fake module named by module-path= in a URI, so the shared
// SoftHSM2 token's state (it flags CKF_USER_PIN_COUNT_LOW after a bad PIN) is left alone.
#include "fixture_env.hpp"
#include "metrics_text.hpp"
#include "ossl_util.hpp"
#include "provider_metrics.hpp"
#include "temp_path.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/store.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <string>
#include <vector>

using hsmp::test::FixtureEnv;
using hsmp::test::sample_value;
using ::testing::HasSubstr;
using ::testing::Not;

using hsmp::test::drain_errors;

namespace {

constexpr int kParentSigns = 3;
constexpr int kWorkers = 4;
constexpr int kWorkerSigns = 5;

class ProviderMetrics : public ::testing::Test {
protected:
    void SetUp() override {
        auto env = FixtureEnv::load();
        if (!env) {
            GTEST_SKIP() << "HSMP_FIXTURE_ENV is not set: run through ctest";
        }
        fixture = *env;
        // The default library context must not read the file below: it would load the
        // provider there too, and the fake module (which makes its keys in the default
        // context) would then be asked to generate RSA keys by this provider.
        ASSERT_EQ(OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr), 1);
        const std::string path = hsmp::test::private_temp_path("metrics-softhsm.cnf");
        std::ofstream(path) << "openssl_conf = init\n"
                               "[init]\nproviders = prov\n"
                               "[prov]\npkcs11 = p11\ndefault = def\n[def]\nactivate = 1\n"
                               "[p11]\nmodule = " HSMP_PROVIDER_SO "\nactivate = 1\n"
                               "pkcs11-module-path = "
                            << fixture->module()
                            << "\npkcs11-module-token-pin = file:" << fixture->pin_file() << "\n";
        setenv("OPENSSL_CONF", path.c_str(), 1); // the provider's unknown-key check reads it
        libctx = OSSL_LIB_CTX_new();
        ASSERT_NE(libctx, nullptr);
        ASSERT_EQ(OSSL_LIB_CTX_load_config(libctx, path.c_str()), 1) << drain_errors();
        prov = OSSL_PROVIDER_load(libctx, "pkcs11");
        ASSERT_NE(prov, nullptr) << drain_errors();
        deflt = OSSL_PROVIDER_load(libctx, "default");
        ASSERT_NE(deflt, nullptr) << drain_errors();
    }
    void TearDown() override {
        EVP_PKEY_free(key);
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

    EVP_PKEY* load_key(const std::string& uri) { return hsmp::test::load_private_key(libctx, uri); }

    // RSA PKCS#1 v1.5 with SHA-256, made in the token; verified in software.
    bool sign_and_verify() {
        const unsigned char msg[] = "hsm metrics";
        unsigned char sig[512];
        size_t siglen = sizeof sig;
        EVP_MD_CTX* md = EVP_MD_CTX_new();
        bool ok =
            EVP_DigestSignInit_ex(md, nullptr, "SHA256", libctx, nullptr, key, nullptr) == 1 &&
            EVP_DigestSign(md, sig, &siglen, msg, sizeof msg - 1) == 1;
        EVP_MD_CTX_free(md);
        if (!ok) {
            return false;
        }
        md = EVP_MD_CTX_new();
        ok = EVP_DigestVerifyInit_ex(md, nullptr, "SHA256", libctx, nullptr, key, nullptr) == 1 &&
             EVP_DigestVerify(md, sig, siglen, msg, sizeof msg - 1) == 1;
        EVP_MD_CTX_free(md);
        return ok;
    }

    std::optional<FixtureEnv> fixture;
    OSSL_LIB_CTX* libctx = nullptr;
    OSSL_PROVIDER* prov = nullptr;
    OSSL_PROVIDER* deflt = nullptr;
    EVP_PKEY* key = nullptr;
};

TEST_F(ProviderMetrics, WorkersForkedAfterLoadingAreSummedWithTheMaster) {
    const std::string serial = fixture->token_serial();
    const std::string label = fixture->token_label();
    const std::string id = fixture->get("HSMP_TEST_ID_rsa2048");
    const std::string keys =
        "key_label=\"rsa2048\",key_id=\"" + id + "\",hsm_id=\"" + serial + "\"";

    // The master: load the key once, sign a few times.
    key = load_key("pkcs11:token=" + label + ";object=rsa2048;type=private");
    ASSERT_NE(key, nullptr) << drain_errors();
    for (int i = 0; i < kParentSigns; ++i) {
        ASSERT_TRUE(sign_and_verify()) << drain_errors();
    }

    // One signature the token itself refuses: raw PKCS#1 v1.5 (no digest set) of 250
    // bytes, more than a 2048-bit key can pad (245 at most).
    {
        EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new_from_pkey(libctx, key, nullptr);
        ASSERT_NE(pctx, nullptr);
        ASSERT_EQ(EVP_PKEY_sign_init(pctx), 1) << drain_errors();
        const std::vector<unsigned char> too_long(250, 0x42);
        unsigned char sig[512];
        size_t siglen = sizeof sig;
        EXPECT_NE(EVP_PKEY_sign(pctx, sig, &siglen, too_long.data(), too_long.size()), 1);
        EXPECT_THAT(drain_errors(), HasSubstr("C_Sign"));
        EVP_PKEY_CTX_free(pctx);
    }

    // The workers: forked after the load, they sign with the key the master loaded.
    std::vector<pid_t> workers;
    for (int w = 0; w < kWorkers; ++w) {
        const pid_t pid = fork();
        if (pid == 0) {
            int failed = 0;
            for (int i = 0; i < kWorkerSigns; ++i) {
                failed += sign_and_verify() ? 0 : 1;
            }
            _exit(failed);
        }
        ASSERT_GT(pid, 0);
        workers.push_back(pid);
    }
    for (const pid_t pid : workers) {
        int status = 0;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
            << "a worker's signatures failed (status " << status << ")";
    }

    // A refused login, on another module's token.
    EVP_PKEY* refused = load_key("pkcs11:token=fake-token;object=rsa;type=private"
                                 "?module-path=" HSMP_FAKE_SO "&pin-value=0000");
    EXPECT_EQ(refused, nullptr);
    EXPECT_THAT(drain_errors(), HasSubstr("CKR_PIN_INCORRECT"));

    const auto text = hsmp::test::fetch_metrics(prov);
    ASSERT_TRUE(text) << drain_errors();
    const std::uint64_t ok = kParentSigns + kWorkers * kWorkerSigns;
    EXPECT_EQ(
        sample_value(*text, "hsm_operations_total{operation=\"sign\"," + keys + ",result=\"ok\"}"),
        ok)
        << *text;
    EXPECT_EQ(sample_value(*text, "hsm_operations_total{operation=\"sign\"," + keys +
                                      ",result=\"error\"}"),
              1U);
    EXPECT_EQ(sample_value(*text, "hsm_operation_duration_seconds_count{operation=\"sign\"}"),
              ok + 1);
    EXPECT_EQ(sample_value(*text, "hsm_operation_duration_seconds_bucket{operation=\"sign\","
                                  "le=\"+Inf\"}"),
              ok + 1);
    // Loaded once, by the master; the workers use the key they inherited.
    EXPECT_EQ(sample_value(*text, "hsm_key_loads_total{" + keys + ",result=\"ok\"}"), 1U);
    EXPECT_EQ(sample_value(*text, "hsm_authentication_failure_total{hsm_id=\"FAKE0001\"}"), 1U);
    EXPECT_EQ(sample_value(*text, "hsm_metrics_dropped_total"), 0U);
    // The PINs are nowhere: neither the fixture's nor the wrong one from the URI.
    EXPECT_THAT(*text, Not(HasSubstr("\"1234\"")));
    EXPECT_THAT(*text, Not(HasSubstr("\"0000\"")));
    EXPECT_THAT(*text, Not(HasSubstr("pin-value")));

    std::string report;
    EXPECT_EQ(hsmp::test::promcheck(*text, report), 0) << report << *text;
}

} // namespace
