// The provider's configuration keys: accepted values, and errors that name the key (and the
// value, unless it is the PIN).
#include "common/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using hsmp::LoginBehavior;
using hsmp::parse_config;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

using Entries = std::vector<std::pair<std::string, std::string>>;

TEST(ConfigTest, DefaultsWithNoKeys) {
    auto cfg = parse_config({});
    ASSERT_TRUE(cfg);
    EXPECT_FALSE(cfg->module_path);
    EXPECT_EQ(cfg->login_behavior, LoginBehavior::Auto);
    EXPECT_TRUE(cfg->cache_keys);
    EXPECT_TRUE(cfg->allow_export);
    EXPECT_TRUE(cfg->encode_uri_to_pem);
}

TEST(ConfigTest, LatchsetKeysKeepTheirMeaning) {
    auto cfg = parse_config(Entries{
        {"pkcs11-module-path", "/usr/lib/softhsm/libsofthsm2.so"},
        {"pkcs11-module-init-args", "configDir='sql:/x'"},
        {"pkcs11-module-token-pin", "file:/etc/pin"},
        {"pkcs11-module-login-behavior", "always"},
        {"pkcs11-module-load-behavior", "early"},
        {"pkcs11-module-cache-keys", "false"},
        {"pkcs11-module-cache-sessions", "7"},
        {"pkcs11-module-quirks", "no-deinit no-operation-state"},
        {"pkcs11-module-allow-export", "1"},
        {"pkcs11-module-block-operations", "digest, rand"},
        {"pkcs11-module-encode-provider-uri-to-pem", "true"},
        {"activate", "1"},
        {"module", "/path/pkcs11.so"},
    });
    ASSERT_TRUE(cfg) << cfg.error().message();
    EXPECT_EQ(cfg->module_path, std::optional<std::string>("/usr/lib/softhsm/libsofthsm2.so"));
    EXPECT_EQ(cfg->module_init_args, "configDir='sql:/x'");
    EXPECT_EQ(cfg->token_pin, std::optional<std::string>("file:/etc/pin"));
    EXPECT_EQ(cfg->login_behavior, LoginBehavior::Always);
    EXPECT_EQ(cfg->load_behavior, hsmp::LoadBehavior::Early);
    EXPECT_FALSE(cfg->cache_keys);
    EXPECT_EQ(cfg->cache_sessions, 7U);
    EXPECT_EQ(cfg->quirks, (std::set<std::string>{"no-deinit", "no-operation-state"}));
    EXPECT_FALSE(cfg->allow_export);
    EXPECT_EQ(cfg->blocked_operations, (std::set<std::string>{"digest", "rand"}));
}

struct BadCase {
    std::string key;
    std::string value;
    std::string expect;
};

class ConfigErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(ConfigErrorTest, NamesKeyAndValue) {
    const auto& c = GetParam();
    auto cfg = parse_config(Entries{{c.key, c.value}});
    ASSERT_FALSE(cfg);
    EXPECT_EQ(cfg.error().code(), hsmp::Code::InvalidArgument);
    EXPECT_THAT(cfg.error().message(), HasSubstr(c.key));
    EXPECT_THAT(cfg.error().message(), HasSubstr(c.expect));
}

INSTANTIATE_TEST_SUITE_P(
    Table, ConfigErrorTest,
    ::testing::Values(
        BadCase{"pkcs11-module-pth", "/x.so", "unknown configuration key \"pkcs11-module-pth\""},
        BadCase{"pkcs11-module-login-behavior", "sometimes",
                "bad value \"sometimes\" for pkcs11-module-login-behavior"},
        BadCase{"pkcs11-module-load-behavior", "now", "early or lazy"},
        BadCase{"pkcs11-module-cache-keys", "maybe", "true or false"},
        BadCase{"pkcs11-module-cache-sessions", "2000", "from 0 to 1024"},
        BadCase{"pkcs11-module-cache-sessions", "-1", "from 0 to 1024"},
        BadCase{"pkcs11-module-cache-pins", "yes", "cache or none"},
        BadCase{"pkcs11-module-quirks", "no-deinit fast", "bad value \"fast\""},
        BadCase{"pkcs11-module-allow-export", "true", "0 (allow) or 1 (deny)"},
        BadCase{"pkcs11-module-block-operations", "signature sign", "bad value \"sign\""},
        BadCase{"pkcs11-module-path", "", "the path of a PKCS#11 module"},
        BadCase{"pkcs11-session-wait-ms", "soon", "a number"}),
    [](const ::testing::TestParamInfo<BadCase>& info) {
        return "case" + std::to_string(info.index);
    });

TEST(ConfigTest, PinValueNeverAppearsInErrors) {
    auto cfg = parse_config(Entries{{"pkcs11-module-token-pin", ""}});
    ASSERT_FALSE(cfg);
    EXPECT_THAT(cfg.error().message(), HasSubstr("pkcs11-module-token-pin is empty"));
    // A literal PIN is accepted and kept out of every message by construction.
    auto ok = parse_config(
        Entries{{"pkcs11-module-token-pin", "s3cret-PIN"}, {"pkcs11-module-pth", "x"}});
    ASSERT_FALSE(ok);
    EXPECT_THAT(ok.error().message(), Not(HasSubstr("s3cret-PIN")));
}

} // namespace
