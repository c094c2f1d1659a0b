// Token selection, login and PIN rules, object lookup and recovery, against the fake module.
#include "fake_fixture.hpp"
#include "pkcs11/operation.hpp"
#include "temp_path.hpp"

#include <gmock/gmock.h>

#include <array>
#include <fstream>
#include <thread>

using hsmp::Code;
using hsmp::test::parse_uri;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

class TokenTest : public hsmp::test::FakeModuleTest {};

const std::array<std::uint8_t, 19> kSha256Prefix = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                                    0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                                    0x01, 0x05, 0x00, 0x04, 0x20};

hsmp::Result<std::vector<std::uint8_t>> sign_sha256(hsmp::p11::Object& key) {
    std::vector<std::uint8_t> msg(32, 0xab);
    hsmp::p11::Mechanism mech{CKM_SHA256_RSA_PKCS, nullptr, 0};
    return hsmp::p11::sign(key, mech, msg);
}

TEST_F(TokenTest, SelectsTokenByLabelAndSerial) {
    auto lib = make_library();
    auto by_label = lib->select(parse_uri("pkcs11:token=other-token"));
    ASSERT_TRUE(by_label) << by_label.error().message();
    ASSERT_EQ(by_label->tokens.size(), 1U);
    EXPECT_EQ(by_label->tokens[0]->identity().serial, "FAKE0002");
    EXPECT_EQ(by_label->tokens[0]->slot_id(), 42U);

    auto by_serial = lib->select(parse_uri("pkcs11:serial=FAKE0001"));
    ASSERT_TRUE(by_serial);
    ASSERT_EQ(by_serial->tokens.size(), 1U);
    EXPECT_EQ(by_serial->tokens[0]->identity().label, "fake-token");

    auto all = lib->select(parse_uri("pkcs11:"));
    ASSERT_TRUE(all);
    EXPECT_EQ(all->tokens.size(), 2U);
    // The same token object is handed out again.
    EXPECT_EQ(all->tokens[0], by_serial->tokens[0]);
}

TEST_F(TokenTest, NoMatchingTokenListsWhatIsPresent) {
    auto lib = make_library();
    auto r = lib->select(parse_uri("pkcs11:token=missing?pin-value=9876"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Code::NotFound);
    EXPECT_THAT(r.error().message(), HasSubstr("no token matches pkcs11:token=missing"));
    EXPECT_THAT(r.error().message(), HasSubstr("\"fake-token\""));
    EXPECT_THAT(r.error().message(), HasSubstr("\"other-token\""));
    EXPECT_THAT(r.error().message(), Not(HasSubstr("9876")));
}

TEST_F(TokenTest, SlotAndLibraryAttributesFilter) {
    auto lib = make_library();
    auto slot = lib->select(parse_uri("pkcs11:slot-id=42"));
    ASSERT_TRUE(slot);
    ASSERT_EQ(slot->tokens.size(), 1U);
    EXPECT_EQ(slot->tokens[0]->identity().label, "other-token");
    auto wrong_lib = lib->select(parse_uri("pkcs11:library-manufacturer=Nobody"));
    ASSERT_FALSE(wrong_lib);
    EXPECT_THAT(wrong_lib.error().message(), HasSubstr("library attributes"));
}

TEST_F(TokenTest, FindsPrivateKeyByLabelIdAndType) {
    auto lib = make_library();
    auto key = lib->find_private_key(parse_uri("pkcs11:token=fake-token;object=rsa"));
    ASSERT_TRUE(key) << key.error().message();
    EXPECT_EQ(key.value()->object_class(), static_cast<CK_OBJECT_CLASS>(CKO_PRIVATE_KEY));
    EXPECT_EQ(key.value()->key_type(), static_cast<CK_KEY_TYPE>(CKK_RSA));
    EXPECT_EQ(key.value()->identity().id, std::vector<std::uint8_t>{0x01});

    auto by_id = lib->find_private_key(parse_uri("pkcs11:id=%02"));
    ASSERT_TRUE(by_id) << by_id.error().message();
    EXPECT_EQ(by_id.value()->key_type(), static_cast<CK_KEY_TYPE>(CKK_EC));
    EXPECT_EQ(by_id.value()->identity().label, std::optional<std::string>("ec"));

    // The object's own URI finds it again and carries the token identity.
    const std::string canonical = key.value()->describe();
    EXPECT_THAT(canonical, HasSubstr("serial=FAKE0001"));
    EXPECT_THAT(canonical, HasSubstr("object=rsa"));
    EXPECT_THAT(canonical, HasSubstr("type=private"));
    auto again = lib->find_private_key(parse_uri(canonical));
    ASSERT_TRUE(again);
}

TEST_F(TokenTest, SearchesAreAttributeFiltered) {
    auto lib = make_library();
    fake().fake_reset_counts();
    auto all = lib->find(parse_uri("pkcs11:token=fake-token;object=rsa"), std::nullopt);
    ASSERT_TRUE(all) << all.error().message();
    // private key, public key and certificate labelled "rsa", one class-filtered search each
    EXPECT_EQ(all->size(), 3U);
    EXPECT_EQ(fake().fake_call_count("C_FindObjectsInit"), 3U);
    EXPECT_EQ(fake().fake_call_count("C_FindObjectsFinal"), 3U);
}

TEST_F(TokenTest, AmbiguousUriSaysHowManyMatched) {
    auto lib = make_library();
    auto key = lib->find_private_key(parse_uri("pkcs11:object=dup"));
    ASSERT_FALSE(key);
    EXPECT_EQ(key.error().code(), Code::Ambiguous);
    EXPECT_THAT(key.error().message(), HasSubstr("matches 2 private keys"));
}

TEST_F(TokenTest, MissingObjectIsNotFound) {
    auto lib = make_library();
    auto key = lib->find_private_key(parse_uri("pkcs11:token=fake-token;object=nope"));
    ASSERT_FALSE(key);
    EXPECT_EQ(key.error().code(), Code::NotFound);
    EXPECT_THAT(key.error().message(),
                HasSubstr("no private key matches pkcs11:token=fake-token;object=nope"));
}

TEST_F(TokenTest, PrivateKeysNeedLoginAndAPin) {
    auto lib = make_library("");
    auto key = lib->find_private_key(parse_uri("pkcs11:token=fake-token;object=rsa"));
    ASSERT_FALSE(key);
    EXPECT_EQ(key.error().code(), Code::Unauthenticated);
    EXPECT_THAT(key.error().message(), HasSubstr("needs a user PIN and none was given"));
}

TEST_F(TokenTest, UriPinValueAndPinSourceLogIn) {
    auto lib = make_library("");
    auto key =
        lib->find_private_key(parse_uri("pkcs11:token=fake-token;object=rsa?pin-value=1234"));
    ASSERT_TRUE(key) << key.error().message();

    const std::string pin_path = hsmp::test::private_temp_path("user.pin");
    std::ofstream(pin_path) << "1234\n";
    auto lib2 = make_library("");
    auto key2 = lib2->find_private_key(
        parse_uri("pkcs11:token=other-token;object=other-ec?pin-source=file:" + pin_path));
    ASSERT_TRUE(key2) << key2.error().message();
}

TEST_F(TokenTest, MissingPinSourceFileIsNamed) {
    auto lib = make_library("");
    auto key =
        lib->find_private_key(parse_uri("pkcs11:object=rsa?pin-source=file:/nonexistent/pin.txt"));
    ASSERT_FALSE(key);
    EXPECT_THAT(key.error().message(), HasSubstr("\"/nonexistent/pin.txt\""));
    EXPECT_THAT(key.error().message(), HasSubstr("No such file or directory"));
}

TEST_F(TokenTest, CallbackSuppliesPinWhenNothingElseDoes) {
    auto lib = make_library("");
    int asked = 0;
    std::string asked_about;
    auto key =
        lib->find_private_key(parse_uri("pkcs11:token=fake-token;object=rsa"),
                              [&](std::string_view info) -> hsmp::Result<hsmp::SecureBuffer> {
                                  ++asked;
                                  asked_about = info;
                                  return hsmp::SecureBuffer("1234");
                              });
    ASSERT_TRUE(key) << key.error().message();
    EXPECT_EQ(asked, 1);
    EXPECT_THAT(asked_about, HasSubstr("fake-token"));
}

TEST_F(TokenTest, WrongPinNamesReturnCodeAndIsNeverRetried) {
    auto lib = make_library("9999");
    auto first = lib->find_private_key(parse_uri("pkcs11:token=fake-token;object=rsa"));
    ASSERT_FALSE(first);
    EXPECT_EQ(first.error().code(), Code::Unauthenticated);
    EXPECT_EQ(first.error().rv_name(), "CKR_PIN_INCORRECT");
    EXPECT_THAT(first.error().message(), HasSubstr("C_Login: CKR_PIN_INCORRECT"));
    EXPECT_THAT(first.error().message(), HasSubstr("pkcs11-module-token-pin"));
    EXPECT_THAT(first.error().message(), Not(HasSubstr("9999")));
    EXPECT_EQ(fake().fake_call_count("C_Login"), 1U);

    auto second = lib->find_private_key(parse_uri("pkcs11:token=fake-token;object=rsa"));
    ASSERT_FALSE(second);
    EXPECT_THAT(second.error().message(), HasSubstr("rejected before"));
    EXPECT_EQ(fake().fake_call_count("C_Login"), 1U) << "a failed PIN was sent again";
}

TEST_F(TokenTest, FinalTryIsRefused) {
    fake().fake_set_pin_tries(2);
    auto bad = make_library("1111");
    ASSERT_FALSE(bad->find_private_key(parse_uri("pkcs11:token=fake-token;object=rsa")));
    // One try left: the token says CKF_USER_PIN_FINAL_TRY and even another PIN is refused.
    auto other = make_library("2222");
    auto r = other->find_private_key(parse_uri("pkcs11:token=fake-token;object=rsa"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Code::Unauthenticated);
    EXPECT_THAT(r.error().message(), HasSubstr("CKF_USER_PIN_FINAL_TRY"));
    EXPECT_EQ(fake().fake_call_count("C_Login"), 1U);
}

TEST_F(TokenTest, LockedPinSaysTheSecurityOfficerMustReset) {
    fake().fake_set_token_flags(CKF_USER_PIN_LOCKED, 0);
    auto lib = make_library();
    auto r = lib->find_private_key(parse_uri("pkcs11:token=fake-token;object=rsa"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Code::Locked);
    EXPECT_THAT(r.error().message(), HasSubstr("security officer must reset it"));

    fake().fake_set_token_flags(0, CKF_USER_PIN_LOCKED);
    fake().fake_fail("C_Login", CKR_PIN_LOCKED, 1);
    auto lib2 = make_library();
    auto r2 = lib2->find_private_key(parse_uri("pkcs11:token=fake-token;object=rsa"));
    ASSERT_FALSE(r2);
    EXPECT_EQ(r2.error().code(), Code::Locked);
    EXPECT_EQ(r2.error().rv_name(), "CKR_PIN_LOCKED");
}

TEST_F(TokenTest, SignsAndReusesOneSession) {
    auto lib = make_library();
    auto key = lib->find_private_key(parse_uri("pkcs11:token=fake-token;object=rsa"));
    ASSERT_TRUE(key);
    fake().fake_reset_counts();
    for (int i = 0; i < 10; ++i) {
        auto sig = sign_sha256(*key.value());
        ASSERT_TRUE(sig) << sig.error().message();
        EXPECT_EQ(sig->size(), 256U);
    }
    EXPECT_EQ(fake().fake_call_count("C_OpenSession"), 0U) << "a session was opened per operation";
    EXPECT_EQ(fake().fake_call_count("C_FindObjectsInit"), 0U) << "an object search per operation";
    EXPECT_EQ(fake().fake_call_count("C_Sign"), 20U); // length query + signature
}

TEST_F(TokenTest, PrivateKeyIsCopiedToASessionObjectOncePerGeneration) {
    auto lib = make_library();
    auto key = lib->find_private_key(parse_uri("pkcs11:token=fake-token;object=rsa"));
    ASSERT_TRUE(key);
    fake().fake_reset_counts();
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(sign_sha256(*key.value()));
    }
    EXPECT_EQ(fake().fake_call_count("C_CopyObject"), 1U);
    // The copy is a session object: looking the key up again must not see two keys.
    auto again = lib->find_private_key(parse_uri("pkcs11:token=fake-token;object=rsa"));
    ASSERT_TRUE(again) << again.error().message();
    // After a re-initialisation the copy is gone with its session and is made again.
    ASSERT_TRUE(key.value()->token()->module().reinitialize());
    ASSERT_TRUE(sign_sha256(*key.value()));
    EXPECT_EQ(fake().fake_call_count("C_CopyObject"), 2U);
}

TEST_F(TokenTest, KeyCacheOffOrRefusedUsesTheTokenObject) {
    hsmp::p11::TokenConfig no_cache;
    no_cache.cache_keys = false;
    auto lib = make_library("1234", no_cache);
    auto key = lib->find_private_key(parse_uri("pkcs11:token=fake-token;object=rsa"));
    ASSERT_TRUE(key);
    ASSERT_TRUE(sign_sha256(*key.value()));
    EXPECT_EQ(fake().fake_call_count("C_CopyObject"), 0U);

    auto lib2 = make_library();
    auto key2 = lib2->find_private_key(parse_uri("pkcs11:token=fake-token;object=ec"));
    ASSERT_TRUE(key2);
    fake().fake_fail("C_CopyObject", 0x1BUL /* CKR_ACTION_PROHIBITED */, -1);
    std::vector<std::uint8_t> digest(32, 1);
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(hsmp::p11::sign(*key2.value(), {CKM_ECDSA, nullptr, 0}, digest));
    }
    EXPECT_EQ(fake().fake_call_count("C_CopyObject"), 1U) << "a refused copy is not retried";
}

TEST_F(TokenTest, SignFailureNamesTheKeyAndReturnCode) {
    auto lib = make_library();
    auto key = lib->find_private_key(parse_uri("pkcs11:token=fake-token;object=rsa"));
    ASSERT_TRUE(key);
    fake().fake_fail("C_SignInit", CKR_MECHANISM_INVALID, 1);
    auto sig = sign_sha256(*key.value());
    ASSERT_FALSE(sig);
    EXPECT_EQ(sig.error().code(), Code::Unsupported);
    EXPECT_THAT(sig.error().message(), HasSubstr("C_SignInit: CKR_MECHANISM_INVALID"));
    EXPECT_THAT(sig.error().message(), HasSubstr("object=rsa"));
}

TEST_F(TokenTest, RecoversOnceFromDeviceLossMidOperation) {
    auto lib = make_library();
    auto key = lib->find_private_key(parse_uri("pkcs11:token=fake-token;object=rsa"));
    ASSERT_TRUE(key);
    fake().fake_fail("C_SignInit", CKR_SESSION_HANDLE_INVALID, 1);
    auto sig = sign_sha256(*key.value());
    ASSERT_TRUE(sig) << sig.error().message();
    fake().fake_fail("C_SignInit", CKR_DEVICE_REMOVED, 1);
    ASSERT_TRUE(sign_sha256(*key.value()));
}

TEST_F(TokenTest, RemovedTokenFailsFastThenResumesWhenBack) {
    hsmp::p11::TokenConfig cfg;
    cfg.retry_min = std::chrono::milliseconds(100);
    auto lib = make_library("1234", cfg);
    auto key = lib->find_private_key(parse_uri("pkcs11:token=fake-token;object=rsa"));
    ASSERT_TRUE(key);
    fake().fake_remove_token(7);
    auto down = sign_sha256(*key.value());
    ASSERT_FALSE(down);
    EXPECT_EQ(down.error().code(), Code::Unavailable);
    EXPECT_THAT(down.error().message(), HasSubstr("fake-token"));

    // Within the backoff window: no module traffic, an immediate named error.
    fake().fake_reset_counts();
    const auto t0 = std::chrono::steady_clock::now();
    auto fast = sign_sha256(*key.value());
    ASSERT_FALSE(fast);
    EXPECT_THAT(fast.error().message(), HasSubstr("still unavailable"));
    EXPECT_EQ(fake().fake_call_count("C_GetSlotList"), 0U);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(50));

    fake().fake_insert_token(7);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    auto back = sign_sha256(*key.value());
    ASSERT_TRUE(back) << back.error().message(); // logged in again with the cached PIN
}

// A remote HSM client whose server died (p11-kit-client.so) answers CKR_DEVICE_ERROR even to
// C_GetSlotList until it is initialised again: the token layer must re-initialise the
// module, not only look for the token again, or the process never recovers.
TEST_F(TokenTest, ModuleThatCannotListSlotsIsInitialisedAgain) {
    hsmp::p11::TokenConfig cfg;
    cfg.retry_min = std::chrono::milliseconds(100);
    auto lib = make_library("1234", cfg);
    auto key = lib->find_private_key(parse_uri("pkcs11:token=fake-token;object=rsa"));
    ASSERT_TRUE(key);
    ASSERT_TRUE(sign_sha256(*key.value()));

    fake().fake_reset_counts();
    fake().fake_fail("C_SignInit", CKR_DEVICE_ERROR, 1);
    fake().fake_fail("C_GetSlotList", CKR_DEVICE_ERROR, -1); // until cleared
    auto down = sign_sha256(*key.value());
    ASSERT_FALSE(down);
    EXPECT_THAT(down.error().message(), HasSubstr("CKR_DEVICE_ERROR"));
    EXPECT_GE(fake().fake_call_count("C_Finalize"), 1U);
    EXPECT_GE(fake().fake_call_count("C_Initialize"), 1U);

    // The server is back: after the backoff the same key signs again, logged in again.
    fake().fake_clear_faults();
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    auto back = sign_sha256(*key.value());
    ASSERT_TRUE(back) << back.error().message();
}

TEST_F(TokenTest, LostLoginIsRedoneWithTheCachedPin) {
    auto lib = make_library();
    auto key = lib->find_private_key(parse_uri("pkcs11:token=fake-token;object=rsa"));
    ASSERT_TRUE(key);
    fake().fake_reset_counts();
    fake().fake_fail("C_SignInit", CKR_USER_NOT_LOGGED_IN, 1);
    ASSERT_TRUE(sign_sha256(*key.value()));
    EXPECT_EQ(fake().fake_call_count("C_Login"), 1U);
}

TEST_F(TokenTest, ReinitialisedModuleWithNewSlotIdsIsFoundByIdentity) {
    fake().fake_renumber_slots_on_init(1);
    auto lib = make_library();
    auto key = lib->find_private_key(parse_uri("pkcs11:token=fake-token;object=rsa"));
    ASSERT_TRUE(key);
    const CK_SLOT_ID before = key.value()->token()->slot_id();
    // Another user of the module finalises and initialises it: every slot id and handle moves.
    ASSERT_TRUE(key.value()->token()->module().reinitialize());
    auto sig = sign_sha256(*key.value());
    ASSERT_TRUE(sig) << sig.error().message();
    EXPECT_NE(key.value()->token()->slot_id(), before);
}

} // namespace
