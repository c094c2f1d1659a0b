// The provider registered in-process (OSSL_PROVIDER_add_builtin, private OSSL_LIB_CTX), as
// OpenSSL's test/fake_rsaprov.c does: the exception barrier, and keymgmt thunks driven through
// EVP with good and bad input. (Configuration errors are asserted through the real openssl
// CLI in tests/e2e and by config_test: OpenSSL 3.0 does not hand a builtin provider its
// configuration section when it is loaded into a private library context.) Errors must land on
// OpenSSL's queue with the provider's reason; nothing may crash or let an exception escape.
#include "abi/barrier.hpp"
#include "abi/reasons.hpp"
#include "ossl_util.hpp"
#include "temp_path.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

#include <fstream>
#include <stdexcept>
#include <string>

extern "C" int OSSL_provider_init(const OSSL_CORE_HANDLE* handle, const OSSL_DISPATCH* in,
                                  const OSSL_DISPATCH** out, void** provctx) noexcept;

using ::testing::HasSubstr;

using hsmp::test::drain_errors;

namespace {

// A private library context with our provider registered under the name "pkcs11" and
// configured (and activated) from a temporary openssl.cnf: with OpenSSL 3.0 a builtin
// provider gets its configuration section only when the configuration activates it.
class InProcessProvider : public ::testing::Test {
protected:
    void load(const std::string& section_body) {
        const std::string path = hsmp::test::private_temp_path("inproc.cnf");
        // config_diagnostics: a provider that fails to activate fails the load and keeps
        // its reason on the error queue (without it OpenSSL 3.0 drops both).
        std::ofstream(path) << "config_diagnostics = 1\nopenssl_conf = init\n"
                               "[init]\nproviders = prov\n"
                               "[prov]\npkcs11 = p11\ndefault = def\n[def]\nactivate = 1\n"
                               "[p11]\nactivate = 1\n"
                            << section_body << "\n";
        libctx = OSSL_LIB_CTX_new();
        ASSERT_NE(libctx, nullptr);
        ASSERT_EQ(OSSL_PROVIDER_add_builtin(libctx, "pkcs11", &OSSL_provider_init), 1);
        setenv("OPENSSL_CONF", path.c_str(), 1); // read by the provider's key scan
        ERR_clear_error();
        loaded_config = OSSL_LIB_CTX_load_config(libctx, path.c_str()) == 1;
        // The configuration activated it (or failed to, leaving the reason on the queue).
        prov = loaded_config ? OSSL_PROVIDER_load(libctx, "pkcs11") : nullptr;
    }
    void TearDown() override {
        if (prov != nullptr) {
            OSSL_PROVIDER_unload(prov);
        }
        OSSL_LIB_CTX_free(libctx);
        unsetenv("OPENSSL_CONF");
        ERR_clear_error();
    }
    OSSL_LIB_CTX* libctx = nullptr;
    OSSL_PROVIDER* prov = nullptr;
    bool loaded_config = false;
};

TEST_F(InProcessProvider, LoadsAndReportsItsName) {
    load("pkcs11-module-path = " HSMP_FAKE_SO);
    ASSERT_NE(prov, nullptr) << drain_errors();
    const char* name = nullptr;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_ptr(OSSL_PROV_PARAM_NAME, const_cast<char**>(&name), 0),
        OSSL_PARAM_construct_end(),
    };
    ASSERT_EQ(OSSL_PROVIDER_get_params(prov, params), 1);
    EXPECT_STREQ(name, "pkcs11 (HSM) provider");
}

TEST_F(InProcessProvider, BarrierTurnsExceptionsIntoErrors) {
    load("pkcs11-module-path = " HSMP_FAKE_SO);
    ASSERT_NE(prov, nullptr) << drain_errors();
    ERR_clear_error();
    // A "fake op" that throws: the barrier returns the failure value and raises a reason.
    const int r = hsmp::abi::guard<int>(-7, []() -> int { throw std::runtime_error("boom"); });
    EXPECT_EQ(r, -7);
    unsigned long e = ERR_peek_error();
    EXPECT_EQ(ERR_GET_REASON(e), hsmp::abi::HSMP_R_INTERNAL);
    EXPECT_THAT(drain_errors(), HasSubstr("boom"));

    void* p = hsmp::abi::guard<void*>(nullptr, []() -> void* { throw std::bad_alloc(); });
    EXPECT_EQ(p, nullptr);
    EXPECT_EQ(ERR_GET_REASON(ERR_peek_error()), hsmp::abi::HSMP_R_OUT_OF_MEMORY);
    ERR_clear_error();

    const int r2 = hsmp::abi::guard<int>(0, []() -> int {
        throw hsmp::abi::ErrorException(
            hsmp::Error(hsmp::Code::NotFound, "no private key matches pkcs11:object=x"));
    });
    EXPECT_EQ(r2, 0);
    EXPECT_EQ(ERR_GET_REASON(ERR_peek_error()), hsmp::abi::HSMP_R_NOT_FOUND);
    EXPECT_THAT(drain_errors(), HasSubstr("no private key matches pkcs11:object=x"));

    const int r3 = hsmp::abi::guard<int>(0, []() -> int { throw 42; });
    EXPECT_EQ(r3, 0);
    EXPECT_THAT(drain_errors(), HasSubstr("unknown exception"));
}

TEST_F(InProcessProvider, KeymgmtImportOfGarbageFailsCleanly) {
    load("pkcs11-module-path = " HSMP_FAKE_SO);
    ASSERT_NE(prov, nullptr) << drain_errors();
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(libctx, "EC", "provider=pkcs11");
    ASSERT_NE(ctx, nullptr) << drain_errors();
    ASSERT_EQ(EVP_PKEY_fromdata_init(ctx), 1);
    unsigned char junk[5] = {4, 1, 2, 3, 4};
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                         const_cast<char*>("prime256v1"), 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, junk, sizeof junk),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY* pkey = nullptr;
    EXPECT_LE(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params), 0);
    EXPECT_EQ(pkey, nullptr);
    EXPECT_THAT(drain_errors(), HasSubstr("not a valid key"));
    EVP_PKEY_CTX_free(ctx);
}

TEST_F(InProcessProvider, KeymgmtImportsPublicPartsAndRefusesPrivateExport) {
    load("pkcs11-module-path = " HSMP_FAKE_SO);
    ASSERT_NE(prov, nullptr) << drain_errors();
    // A software key from the default provider, its public half imported into ours.
    EVP_PKEY* soft = EVP_PKEY_Q_keygen(libctx, "provider=default", "EC", "P-256");
    ASSERT_NE(soft, nullptr);
    OSSL_PARAM* pub = nullptr;
    ASSERT_EQ(EVP_PKEY_todata(soft, EVP_PKEY_PUBLIC_KEY, &pub), 1);
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(libctx, "EC", "provider=pkcs11");
    ASSERT_EQ(EVP_PKEY_fromdata_init(ctx), 1);
    EVP_PKEY* ours = nullptr;
    ASSERT_EQ(EVP_PKEY_fromdata(ctx, &ours, EVP_PKEY_PUBLIC_KEY, pub), 1) << drain_errors();
    EXPECT_EQ(EVP_PKEY_get_bits(ours), 256);
    EXPECT_EQ(EVP_PKEY_eq(ours, soft), 1);
    // Asking our key for private components fails with a clear error; public parts export.
    ERR_clear_error();
    OSSL_PARAM* priv = nullptr;
    EXPECT_NE(EVP_PKEY_todata(ours, EVP_PKEY_KEYPAIR, &priv), 1);
    EXPECT_THAT(drain_errors(), HasSubstr("private key material cannot be exported"));
    OSSL_PARAM* pub_again = nullptr;
    ASSERT_EQ(EVP_PKEY_todata(ours, EVP_PKEY_PUBLIC_KEY, &pub_again), 1);
    EXPECT_NE(OSSL_PARAM_locate(pub_again, OSSL_PKEY_PARAM_PUB_KEY), nullptr);
    OSSL_PARAM_free(pub_again);
    OSSL_PARAM_free(pub);
    EVP_PKEY_free(ours);
    EVP_PKEY_free(soft);
    EVP_PKEY_CTX_free(ctx);
}

} // namespace
