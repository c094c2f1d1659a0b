// The "pkcs11-metrics" provider parameter (provider/include/pkcs11_provider.h), with the
// provider registered in-process against the fake module: the size protocol a host relies
// on, and the counters that store loads, signatures through EVP, a failing signature and
// a refused login leave in the text.
#include "fake_control.h"
#include "metrics_text.hpp"
#include "ossl_util.hpp"
#include "provider_metrics.hpp"
#include "temp_path.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/store.h>
#include <p11-kit/pkcs11.h>
#include <pkcs11_provider.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

extern "C" int OSSL_provider_init(const OSSL_CORE_HANDLE* handle, const OSSL_DISPATCH* in,
                                  const OSSL_DISPATCH** out, void** provctx) noexcept;

using hsmp::test::fetch_metrics;
using hsmp::test::sample_value;
using ::testing::HasSubstr;
using ::testing::StartsWith;

namespace {

const std::string kRsaOk = "hsm_operations_total{operation=\"sign\",key_label=\"rsa\","
                           "key_id=\"01\",hsm_id=\"FAKE0001\",result=\"ok\"}";
const std::string kRsaError = "hsm_operations_total{operation=\"sign\",key_label=\"rsa\","
                              "key_id=\"01\",hsm_id=\"FAKE0001\",result=\"error\"}";
const std::string kRsaLoads = "hsm_key_loads_total{key_label=\"rsa\",key_id=\"01\","
                              "hsm_id=\"FAKE0001\",result=\"ok\"}";
const std::string kSignCount = "hsm_operation_duration_seconds_count{operation=\"sign\"}";

std::uint64_t value_or_zero(const std::string& text, const std::string& series) {
    return sample_value(text, series).value_or(0);
}

class MetricsParam : public ::testing::Test {
protected:
    static FakeControl& fake() {
        static FakeControl control(HSMP_FAKE_SO);
        return control;
    }

    void SetUp() override {
        fake().fake_reset();
        const std::string path = hsmp::test::private_temp_path("metrics-param.cnf");
        std::ofstream(path) << "openssl_conf = init\n"
                               "[init]\nproviders = prov\n"
                               "[prov]\npkcs11 = p11\ndefault = def\n[def]\nactivate = 1\n"
                               "[p11]\nactivate = 1\n"
                               "pkcs11-module-path = " HSMP_FAKE_SO "\n"
                               "pkcs11-module-token-pin = 1234\n";
        libctx = OSSL_LIB_CTX_new();
        ASSERT_NE(libctx, nullptr);
        ASSERT_EQ(OSSL_PROVIDER_add_builtin(libctx, "pkcs11", &OSSL_provider_init), 1);
        setenv("OPENSSL_CONF", path.c_str(), 1);
        ASSERT_EQ(OSSL_LIB_CTX_load_config(libctx, path.c_str()), 1);
        prov = OSSL_PROVIDER_load(libctx, "pkcs11");
        ASSERT_NE(prov, nullptr);
        deflt = OSSL_PROVIDER_load(libctx, "default");
        ASSERT_NE(deflt, nullptr);
        ERR_clear_error();
    }
    void TearDown() override {
        EVP_PKEY_free(key);
        OSSL_PROVIDER_unload(prov);
        OSSL_PROVIDER_unload(deflt);
        OSSL_LIB_CTX_free(libctx);
        unsetenv("OPENSSL_CONF");
        ERR_clear_error();
        fake().fake_reset();
    }

    std::string metrics() {
        auto text = fetch_metrics(prov);
        EXPECT_TRUE(text.has_value());
        return text.value_or("");
    }

    EVP_PKEY* load_key(const std::string& uri) { return hsmp::test::load_private_key(libctx, uri); }

    bool sign_once(EVP_PKEY* k) {
        EVP_MD_CTX* md = EVP_MD_CTX_new();
        const unsigned char msg[] = "metrics";
        unsigned char sig[512];
        size_t siglen = sizeof sig;
        const bool ok =
            EVP_DigestSignInit_ex(md, nullptr, "SHA256", libctx, nullptr, k, nullptr) == 1 &&
            EVP_DigestSign(md, sig, &siglen, msg, sizeof msg - 1) == 1;
        EVP_MD_CTX_free(md);
        return ok;
    }

    OSSL_LIB_CTX* libctx = nullptr;
    OSSL_PROVIDER* prov = nullptr;
    OSSL_PROVIDER* deflt = nullptr;
    EVP_PKEY* key = nullptr;
};

TEST_F(MetricsParam, IsListedAsAGettableUtf8String) {
    const OSSL_PARAM* gettable = OSSL_PROVIDER_gettable_params(prov);
    const OSSL_PARAM* p = OSSL_PARAM_locate_const(gettable, PKCS11_PROVIDER_PARAM_METRICS);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->data_type, OSSL_PARAM_UTF8_STRING);
    EXPECT_STREQ(PKCS11_PROVIDER_PARAM_METRICS, "pkcs11-metrics");
}

TEST_F(MetricsParam, ANullBufferAsksForTheLengthWithoutTheNul) {
    OSSL_PARAM q[] = {OSSL_PARAM_utf8_string(PKCS11_PROVIDER_PARAM_METRICS, nullptr, 0),
                      OSSL_PARAM_END};
    ASSERT_EQ(OSSL_PROVIDER_get_params(prov, q), 1);
    const std::size_t length = q[0].return_size;
    ASSERT_GT(length, 100U);

    // Exactly length + 1 bytes: the text and its NUL.
    std::vector<char> buf(length + 1, '#');
    OSSL_PARAM p[] = {OSSL_PARAM_utf8_string(PKCS11_PROVIDER_PARAM_METRICS, buf.data(), buf.size()),
                      OSSL_PARAM_END};
    ASSERT_EQ(OSSL_PROVIDER_get_params(prov, p), 1);
    EXPECT_EQ(p[0].return_size, length);
    EXPECT_EQ(std::strlen(buf.data()), length);
    EXPECT_THAT(std::string(buf.data()), StartsWith("# HELP hsm_operations_total "));
    EXPECT_EQ(buf[length - 1], '\n');
}

TEST_F(MetricsParam, ABufferWithoutRoomForTheNulFailsQuietlyWithTheLength) {
    OSSL_PARAM q[] = {OSSL_PARAM_utf8_string(PKCS11_PROVIDER_PARAM_METRICS, nullptr, 0),
                      OSSL_PARAM_END};
    ASSERT_EQ(OSSL_PROVIDER_get_params(prov, q), 1);
    const std::size_t length = q[0].return_size;
    for (const std::size_t size : {length, length / 2, std::size_t{1}}) {
        std::vector<char> buf(size, 'Z');
        OSSL_PARAM p[] = {OSSL_PARAM_utf8_string(PKCS11_PROVIDER_PARAM_METRICS, buf.data(), size),
                          OSSL_PARAM_END};
        EXPECT_EQ(OSSL_PROVIDER_get_params(prov, p), 0) << size;
        EXPECT_EQ(p[0].return_size, length) << size;
        EXPECT_EQ(std::string(buf.begin(), buf.end()), std::string(size, 'Z')) << "untouched";
        EXPECT_EQ(ERR_peek_error(), 0UL) << "a short buffer queues no error";
    }
}

TEST_F(MetricsParam, AnotherTypeIsRefusedWithAnError) {
    char* ptr = nullptr;
    OSSL_PARAM p[] = {OSSL_PARAM_utf8_ptr(PKCS11_PROVIDER_PARAM_METRICS, &ptr, 0), OSSL_PARAM_END};
    EXPECT_EQ(OSSL_PROVIDER_get_params(prov, p), 0);
    EXPECT_NE(ERR_peek_error(), 0UL);
    EXPECT_EQ(ptr, nullptr);
}

TEST_F(MetricsParam, AskedTogetherWithOtherParameters) {
    const char* name = nullptr;
    std::vector<char> buf(1 << 16);
    OSSL_PARAM p[] = {OSSL_PARAM_utf8_ptr("name", &name, 0),
                      OSSL_PARAM_utf8_string(PKCS11_PROVIDER_PARAM_METRICS, buf.data(), buf.size()),
                      OSSL_PARAM_END};
    ASSERT_EQ(OSSL_PROVIDER_get_params(prov, p), 1);
    EXPECT_THAT(std::string(name), HasSubstr("pkcs11"));
    EXPECT_THAT(std::string(buf.data()), HasSubstr("hsm_metrics_dropped_total "));
}

TEST_F(MetricsParam, TextThatGrewBetweenTheCallsIsFetchedOnRetry) {
    // The size query, then a new key series (as a worker's operations add them), then a
    // fetch sized for the old text: it fails quietly and says the new length; a second
    // fetch of that size gets all of it.
    OSSL_PARAM q[] = {OSSL_PARAM_utf8_string(PKCS11_PROVIDER_PARAM_METRICS, nullptr, 0),
                      OSSL_PARAM_END};
    ASSERT_EQ(OSSL_PROVIDER_get_params(prov, q), 1);
    key = load_key("pkcs11:token=fake-token;object=rsa;type=private");
    ASSERT_NE(key, nullptr);
    ERR_clear_error();

    std::vector<char> small(q[0].return_size + 1);
    OSSL_PARAM p[] = {
        OSSL_PARAM_utf8_string(PKCS11_PROVIDER_PARAM_METRICS, small.data(), small.size()),
        OSSL_PARAM_END};
    EXPECT_EQ(OSSL_PROVIDER_get_params(prov, p), 0);
    EXPECT_GT(p[0].return_size, q[0].return_size);
    EXPECT_EQ(ERR_peek_error(), 0UL);

    std::vector<char> grown(p[0].return_size + 1);
    OSSL_PARAM r[] = {
        OSSL_PARAM_utf8_string(PKCS11_PROVIDER_PARAM_METRICS, grown.data(), grown.size()),
        OSSL_PARAM_END};
    ASSERT_EQ(OSSL_PROVIDER_get_params(prov, r), 1);
    EXPECT_EQ(r[0].return_size, p[0].return_size);
    EXPECT_EQ(value_or_zero(grown.data(), kRsaLoads), 1U);
}

TEST_F(MetricsParam, CountsLoadsSignaturesFailuresAndRefusedLogins) {
    const std::string before = metrics();
    key = load_key("pkcs11:token=fake-token;object=rsa;type=private");
    ASSERT_NE(key, nullptr);
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(sign_once(key));
    }
    fake().fake_fail("C_Sign", CKR_FUNCTION_FAILED, 1);
    EXPECT_FALSE(sign_once(key));
    ERR_clear_error();
    // A wrong PIN for the other token (this one is logged in already).
    EVP_PKEY* other = load_key("pkcs11:token=other-token;object=other-ec;type=private"
                               "?pin-value=0000");
    EXPECT_EQ(other, nullptr);
    ERR_clear_error();

    const std::string after = metrics();
    EXPECT_EQ(value_or_zero(after, kRsaOk) - value_or_zero(before, kRsaOk), 3U);
    EXPECT_EQ(value_or_zero(after, kRsaError) - value_or_zero(before, kRsaError), 1U);
    EXPECT_EQ(value_or_zero(after, kRsaLoads) - value_or_zero(before, kRsaLoads), 1U);
    EXPECT_EQ(value_or_zero(after, kSignCount) - value_or_zero(before, kSignCount), 4U);
    EXPECT_EQ(value_or_zero(after, "hsm_authentication_failure_total{hsm_id=\"FAKE0002\"}") -
                  value_or_zero(before, "hsm_authentication_failure_total{hsm_id=\"FAKE0002\"}"),
              1U);
    EXPECT_THAT(after, ::testing::Not(HasSubstr("0000\"")));
    std::string report;
    EXPECT_EQ(hsmp::test::promcheck(after, report), 0) << report << after;
}

} // namespace
