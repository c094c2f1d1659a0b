// The PKCS#11 layer against real tokens: SoftHSM2, NSS softokn, and SoftHSM2 served from
// another process through p11-kit server. The fixture is named by $HSMP_FIXTURE_ENV
// (tests/fixtures/*.sh write it); the same tests run once per token implementation.
#include "fixture_env.hpp"
#include "ossl_verify.hpp"
#include "pkcs11/library.hpp"
#include "pkcs11/operation.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

using hsmp::Code;
using hsmp::test::FixtureEnv;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

hsmp::p11::LibraryConfig config_for(const FixtureEnv& env, bool with_pin = true) {
    hsmp::p11::LibraryConfig config;
    config.module.path = env.module();
    config.module.init_args = env.init_args();
    if (with_pin) {
        auto pin = hsmp::p11::config_pin("file:" + env.pin_file());
        if (!pin) {
            throw std::runtime_error(pin.error().message());
        }
        config.token_pin = std::move(pin).value();
    }
    return config;
}

hsmp::uri::Uri parse(const std::string& text) {
    auto r = hsmp::uri::parse(text);
    if (!r) {
        throw std::runtime_error(r.error.message);
    }
    return *r.uri;
}

class RealTokenTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto loaded = FixtureEnv::load();
        ASSERT_TRUE(loaded) << "HSMP_FIXTURE_ENV is not set: run through ctest";
        env.emplace(std::move(*loaded));
        lib = std::make_shared<hsmp::p11::Library>(config_for(*env));
    }
    // The fixture's token as a URI (labels such as NSS's "NSS Certificate DB" need
    // percent-encoding), plus `rest` path attributes.
    std::string token_uri(const std::string& rest) const {
        hsmp::uri::Uri u;
        u.token = env->token_label();
        return hsmp::uri::format(u) + (rest.empty() ? "" : ";" + rest);
    }
    hsmp::test::PkeyPtr public_key_of(const hsmp::p11::Object& priv) {
        hsmp::uri::Uri u = priv.uri();
        u.type = hsmp::uri::ObjectType::Public;
        auto pub = lib->find(u, std::nullopt);
        if (!pub || pub->size() != 1) {
            ADD_FAILURE() << "public key of " << priv.describe() << " not found";
            return {nullptr, &EVP_PKEY_free};
        }
        auto& obj = *pub->front();
        auto lease = obj.token()->session();
        auto h = obj.handle(lease.value());
        if (priv.key_type() == CKK_RSA) {
            return hsmp::test::rsa_public_key(
                hsmp::p11::read_attribute(*lease, *h, CKA_MODULUS).value(),
                hsmp::p11::read_attribute(*lease, *h, CKA_PUBLIC_EXPONENT).value());
        }
        return hsmp::test::ec_public_key(
            hsmp::p11::read_attribute(*lease, *h, CKA_EC_PARAMS).value(),
            hsmp::p11::read_attribute(*lease, *h, CKA_EC_POINT).value());
    }
    std::optional<FixtureEnv> env;
    std::shared_ptr<hsmp::p11::Library> lib;
};

const std::vector<std::uint8_t> kMessage(100, 0x42);

TEST_F(RealTokenTest, FindsTheTokenByLabelAndSerial) {
    // NSS gives both of its tokens the same serial: label and serial together are unique.
    auto sel = lib->select(parse(token_uri("serial=" + env->token_serial())));
    ASSERT_TRUE(sel) << sel.error().message();
    ASSERT_EQ(sel->tokens.size(), 1U);
    EXPECT_EQ(sel->tokens[0]->identity().label, env->token_label());
}

TEST_F(RealTokenTest, RsaKeySignsAndOpenSslVerifies) {
    auto key = lib->find_private_key(parse(token_uri("object=rsa2048")));
    ASSERT_TRUE(key) << key.error().message();
    EXPECT_EQ(key.value()->key_type(), static_cast<CK_KEY_TYPE>(CKK_RSA));
    auto sig = hsmp::p11::sign(*key.value(), {CKM_SHA256_RSA_PKCS, nullptr, 0}, kMessage);
    ASSERT_TRUE(sig) << sig.error().message();
    auto pub = public_key_of(*key.value());
    ASSERT_TRUE(pub);
    EXPECT_TRUE(hsmp::test::verify_sha256(pub.get(), kMessage, sig.value()));
    auto tampered = sig.value();
    tampered[10] ^= 1;
    EXPECT_FALSE(hsmp::test::verify_sha256(pub.get(), kMessage, tampered));
}

TEST_F(RealTokenTest, EcKeySignsAndOpenSslVerifies) {
    for (const char* label : {"ec-p256", "ec-p384"}) {
        auto key = lib->find_private_key(parse(token_uri(std::string("object=") + label)));
        ASSERT_TRUE(key) << label << ": " << key.error().message();
        EXPECT_EQ(key.value()->key_type(), static_cast<CK_KEY_TYPE>(CKK_EC));
        const auto digest = hsmp::test::sha256(kMessage);
        auto sig = hsmp::p11::sign(*key.value(), {CKM_ECDSA, nullptr, 0}, digest);
        ASSERT_TRUE(sig) << sig.error().message();
        auto pub = public_key_of(*key.value());
        ASSERT_TRUE(pub);
        EXPECT_TRUE(hsmp::test::verify_sha256(pub.get(), kMessage,
                                              hsmp::test::ecdsa_raw_to_der(sig.value())))
            << label;
    }
}

TEST_F(RealTokenTest, FindsByIdAndListsEachClass) {
    auto key = lib->find_private_key(parse(token_uri("object=rsa2048")));
    ASSERT_TRUE(key);
    hsmp::uri::Uri by_id = parse(token_uri(""));
    by_id.id = key.value()->identity().id;
    auto again = lib->find_private_key(by_id);
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_EQ(again.value()->identity(), key.value()->identity());

    auto certs = lib->find(parse(token_uri("type=cert")), std::nullopt);
    ASSERT_TRUE(certs) << certs.error().message();
    EXPECT_GE(certs->size(), 1U);
    for (const auto& c : certs.value()) {
        EXPECT_EQ(c->object_class(), static_cast<CK_OBJECT_CLASS>(CKO_CERTIFICATE));
    }
    auto privs = lib->find(parse(token_uri("type=private")), std::nullopt);
    ASSERT_TRUE(privs);
    EXPECT_GE(privs->size(), 3U);
}

TEST_F(RealTokenTest, MissingObjectIsNamed) {
    auto none = lib->find_private_key(parse(token_uri("object=no-such-key")));
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().code(), Code::NotFound);
    EXPECT_THAT(none.error().message(), HasSubstr("object=no-such-key"));
}

// Login state belongs to the module instance of a process, and earlier tests in this
// process have logged in; a fresh process (a child, which re-initialises the module) is
// the only place where the token itself judges a wrong PIN.
TEST_F(RealTokenTest, WrongPinIsRefusedByTheTokenAndNamed) {
    const pid_t pid = fork();
    if (pid == 0) {
        auto cfg = config_for(*env, false);
        cfg.token_pin =
            hsmp::p11::Pin{hsmp::SecureBuffer("wrong-PIN-7q"), "pkcs11-module-token-pin"};
        hsmp::p11::Library wrong(std::move(cfg));
        auto denied = wrong.find_private_key(parse(token_uri("object=rsa2048")));
        if (denied) {
            _exit(1);
        }
        const std::string msg = denied.error().message();
        fprintf(stderr, "child: %s\n", msg.c_str());
        const bool named = denied.error().code() == Code::Unauthenticated &&
                           denied.error().rv_name() == "CKR_PIN_INCORRECT" &&
                           msg.find("C_Login: CKR_PIN_INCORRECT") != std::string::npos &&
                           msg.find("wrong-PIN-7q") == std::string::npos;
        _exit(named ? 0 : 2);
    }
    ASSERT_GT(pid, 0);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "1: wrong PIN accepted, 2: error not named";
}

TEST_F(RealTokenTest, ConcurrentSignersShareTheBoundedPool) {
    auto key = lib->find_private_key(parse(token_uri("object=ec-p256")));
    ASSERT_TRUE(key) << key.error().message();
    auto pub = public_key_of(*key.value());
    ASSERT_TRUE(pub);
    const auto digest = hsmp::test::sha256(kMessage);
    std::atomic<int> good{0};
    std::atomic<int> bad{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 25; ++i) {
                auto sig = hsmp::p11::sign(*key.value(), {CKM_ECDSA, nullptr, 0}, digest);
                if (sig && hsmp::test::verify_sha256(pub.get(), kMessage,
                                                     hsmp::test::ecdsa_raw_to_der(sig.value()))) {
                    ++good;
                } else {
                    ++bad;
                }
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    EXPECT_EQ(good.load(), 100);
    EXPECT_EQ(bad.load(), 0);
    EXPECT_LE(key.value()->token()->pool().open_count(), key.value()->token()->pool().cap());
}

} // namespace
