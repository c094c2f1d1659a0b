// OpEvents from the PKCS#11 layer against the fake module: one event per signature and
// per user login, carrying the key's CKA_LABEL and CKA_ID and the token serial, the
// outcome and the failing CK_RV.
#include "fake_fixture.hpp"
#include "obs/events.hpp"
#include "pkcs11/operation.hpp"

#include <gmock/gmock.h>

#include <mutex>
#include <string>
#include <vector>

using hsmp::obs::Operation;
using hsmp::obs::Outcome;
using hsmp::test::parse_uri;

namespace {

// A copy of an OpEvent (its views are only valid during the observer call).
struct Seen {
    Operation operation;
    Outcome outcome;
    unsigned long rv;
    unsigned long mechanism;
    std::string serial;
    std::string label;
    std::vector<std::uint8_t> id;
    std::chrono::nanoseconds duration;
};

std::mutex g_mutex;
std::vector<Seen> g_seen;

void capture(const hsmp::obs::OpEvent& e) noexcept {
    const std::lock_guard lock(g_mutex);
    g_seen.push_back(Seen{e.operation, e.outcome, e.rv, e.mechanism, std::string(e.token_serial),
                          std::string(e.key_label),
                          std::vector<std::uint8_t>(e.key_id.begin(), e.key_id.end()), e.duration});
}

class ObserveTest : public hsmp::test::FakeModuleTest {
protected:
    void SetUp() override {
        FakeModuleTest::SetUp();
        g_seen.clear();
        hsmp::obs::set_op_observer(&capture);
    }
    void TearDown() override {
        hsmp::obs::set_op_observer(nullptr);
        FakeModuleTest::TearDown();
    }
    static std::vector<Seen> seen(Operation op) {
        const std::lock_guard lock(g_mutex);
        std::vector<Seen> out;
        for (const Seen& s : g_seen) {
            if (s.operation == op) {
                out.push_back(s);
            }
        }
        return out;
    }
};

hsmp::Result<std::vector<std::uint8_t>> sign(hsmp::p11::Object& key) {
    const std::vector<std::uint8_t> msg(32, 0x5a);
    return hsmp::p11::sign(key, {CKM_SHA256_RSA_PKCS, nullptr, 0}, msg);
}

TEST_F(ObserveTest, EachSignatureIsOneEventWithTheKeysIdentity) {
    auto lib = make_library();
    auto key = lib->find_private_key(parse_uri("pkcs11:token=fake-token;object=rsa"));
    ASSERT_TRUE(key) << key.error().message();
    ASSERT_TRUE(sign(*key.value()));
    ASSERT_TRUE(sign(*key.value()));

    const auto signs = seen(Operation::Sign);
    ASSERT_EQ(signs.size(), 2U);
    for (const Seen& s : signs) {
        EXPECT_EQ(s.outcome, Outcome::Ok);
        EXPECT_EQ(s.rv, CKR_OK);
        EXPECT_EQ(s.mechanism, CKM_SHA256_RSA_PKCS);
        EXPECT_EQ(s.serial, "FAKE0001");
        EXPECT_EQ(s.label, "rsa");
        EXPECT_EQ(s.id, std::vector<std::uint8_t>{0x01});
        EXPECT_GT(s.duration.count(), 0);
    }
    // The login during the search was reported once, as a success.
    const auto logins = seen(Operation::Login);
    ASSERT_EQ(logins.size(), 1U);
    EXPECT_EQ(logins[0].outcome, Outcome::Ok);
    EXPECT_EQ(logins[0].serial, "FAKE0001");
    EXPECT_TRUE(logins[0].label.empty());
}

TEST_F(ObserveTest, AFailedSignatureReportsTheTokensAnswer) {
    auto lib = make_library();
    auto key = lib->find_private_key(parse_uri("pkcs11:token=fake-token;object=rsa"));
    ASSERT_TRUE(key) << key.error().message();
    fake().fake_fail("C_Sign", CKR_FUNCTION_FAILED, 1);
    EXPECT_FALSE(sign(*key.value()));

    const auto signs = seen(Operation::Sign);
    ASSERT_EQ(signs.size(), 1U);
    EXPECT_EQ(signs[0].outcome, Outcome::Failed);
    EXPECT_EQ(signs[0].rv, CKR_FUNCTION_FAILED);
    EXPECT_EQ(signs[0].label, "rsa");
    EXPECT_EQ(signs[0].id, std::vector<std::uint8_t>{0x01});
}

TEST_F(ObserveTest, ASignatureRetriedAfterDeviceLossIsStillOneEvent) {
    auto lib = make_library();
    auto key = lib->find_private_key(parse_uri("pkcs11:token=fake-token;object=rsa"));
    ASSERT_TRUE(key) << key.error().message();
    fake().fake_fail("C_SignInit", CKR_SESSION_HANDLE_INVALID, 1);
    ASSERT_TRUE(sign(*key.value()));
    const auto signs = seen(Operation::Sign);
    ASSERT_EQ(signs.size(), 1U);
    EXPECT_EQ(signs[0].outcome, Outcome::Ok);
}

TEST_F(ObserveTest, AWrongPinIsADeniedLoginAndSoIsItsRefusedRetry) {
    auto lib = make_library("9999");
    const auto uri = parse_uri("pkcs11:token=fake-token;object=rsa");
    EXPECT_FALSE(lib->find_private_key(uri));
    EXPECT_FALSE(lib->find_private_key(uri)); // the same wrong PIN is never sent again
    EXPECT_EQ(fake().fake_call_count("C_Login"), 1U);

    const auto logins = seen(Operation::Login);
    ASSERT_EQ(logins.size(), 2U);
    EXPECT_EQ(logins[0].outcome, Outcome::Denied);
    EXPECT_EQ(logins[0].rv, CKR_PIN_INCORRECT);
    EXPECT_EQ(logins[0].serial, "FAKE0001");
    EXPECT_EQ(logins[1].outcome, Outcome::Denied);
    EXPECT_EQ(logins[1].rv, 0U); // refused by the provider, no C_Login
    EXPECT_TRUE(seen(Operation::Sign).empty());
}

TEST_F(ObserveTest, ALockedPinIsDenied) {
    fake().fake_set_token_flags(CKF_USER_PIN_LOCKED, 0);
    auto lib = make_library();
    EXPECT_FALSE(lib->find_private_key(parse_uri("pkcs11:token=fake-token;object=rsa")));
    const auto logins = seen(Operation::Login);
    ASSERT_EQ(logins.size(), 1U);
    EXPECT_EQ(logins[0].outcome, Outcome::Denied);
}

TEST_F(ObserveTest, ALoginLostToTheDeviceIsAFailureNotADenial) {
    auto lib = make_library();
    fake().fake_fail("C_Login", CKR_DEVICE_ERROR, -1);
    EXPECT_FALSE(lib->find_private_key(parse_uri("pkcs11:token=fake-token;object=rsa")));
    const auto logins = seen(Operation::Login);
    ASSERT_FALSE(logins.empty());
    EXPECT_EQ(logins[0].outcome, Outcome::Failed);
    EXPECT_EQ(logins[0].rv, CKR_DEVICE_ERROR);
}

TEST_F(ObserveTest, ATokenWithoutLoginReportsNoLogin) {
    fake().fake_set_token_flags(0, CKF_LOGIN_REQUIRED);
    auto lib = make_library();
    auto selection = lib->select(parse_uri("pkcs11:token=fake-token"));
    ASSERT_TRUE(selection) << selection.error().message();
    ASSERT_EQ(selection->tokens.size(), 1U);
    ASSERT_TRUE(selection->tokens[0]->login(selection->pins));
    EXPECT_TRUE(seen(Operation::Login).empty());
}

} // namespace
