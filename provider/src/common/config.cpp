#include "common/config.hpp"

#include <charconv>

namespace hsmp {

namespace {

const std::vector<std::string_view> kKeys = {
    "pkcs11-module-path",
    "pkcs11-module-init-args",
    "pkcs11-module-token-pin",
    "pkcs11-module-login-behavior",
    "pkcs11-module-load-behavior",
    "pkcs11-module-cache-pins",
    "pkcs11-module-cache-keys",
    "pkcs11-module-cache-sessions",
    "pkcs11-module-quirks",
    "pkcs11-module-allow-export",
    "pkcs11-module-block-operations",
    "pkcs11-module-encode-provider-uri-to-pem",
    "pkcs11-module-assume-fips",
    "pkcs11-session-wait-ms",
};

const std::set<std::string> kQuirks = {"no-deinit", "no-operation-state", "no-session-callbacks",
                                       "no-allowed-mechanisms"};
const std::set<std::string> kOperations = {"digest",  "cipher",  "mac",       "kdf",         "rand",
                                           "keymgmt", "keyexch", "signature", "asym-cipher", "kem",
                                           "encoder", "decoder", "store",     "skeymgmt"};

Error bad_value(std::string_view key, std::string_view value, std::string_view expected) {
    return Error(Code::InvalidArgument, "bad value \"" + std::string(value) + "\" for " +
                                            std::string(key) + ": expected " +
                                            std::string(expected));
}

Result<bool> parse_bool(std::string_view key, std::string_view value) {
    if (value == "true" || value == "yes" || value == "1" || value == "on") {
        return true;
    }
    if (value == "false" || value == "no" || value == "0" || value == "off") {
        return false;
    }
    return bad_value(key, value, "true or false");
}

Result<std::uint64_t> parse_number(std::string_view key, std::string_view value,
                                   std::uint64_t max) {
    std::uint64_t n = 0;
    const auto* end = value.data() + value.size();
    auto [ptr, ec] = std::from_chars(value.data(), end, n);
    if (value.empty() || ec != std::errc() || ptr != end || n > max) {
        return bad_value(key, value, "a number from 0 to " + std::to_string(max));
    }
    return n;
}

Result<std::set<std::string>> parse_words(std::string_view key, std::string_view value,
                                          const std::set<std::string>& allowed) {
    std::set<std::string> out;
    std::size_t pos = 0;
    while (pos < value.size()) {
        const std::size_t start = value.find_first_not_of(" \t,", pos);
        if (start == std::string_view::npos) {
            break;
        }
        const std::size_t stop = value.find_first_of(" \t,", start);
        const std::string word(value.substr(start, stop - start));
        if (allowed.count(word) == 0) {
            std::string list;
            for (const auto& a : allowed) {
                list += (list.empty() ? "" : ", ") + a;
            }
            return bad_value(key, word, "one of " + list);
        }
        out.insert(word);
        pos = stop == std::string_view::npos ? value.size() : stop;
    }
    return out;
}

} // namespace

bool is_openssl_provider_key(std::string_view key) noexcept {
    return key == "activate" || key == "module" || key == "identity" || key == "soft_load" ||
           key == "default_properties";
}

const std::vector<std::string_view>& config_keys() noexcept {
    return kKeys;
}

Result<ProviderConfig>
parse_config(const std::vector<std::pair<std::string, std::string>>& entries) {
    ProviderConfig cfg;
    for (const auto& [key, value] : entries) {
        if (is_openssl_provider_key(key)) {
            continue;
        }
        if (key == "pkcs11-module-path") {
            if (value.empty()) {
                return bad_value(key, value, "the path of a PKCS#11 module");
            }
            cfg.module_path = value;
        } else if (key == "pkcs11-module-init-args") {
            cfg.module_init_args = value;
        } else if (key == "pkcs11-module-token-pin") {
            if (value.empty()) {
                return Error(Code::InvalidArgument, "pkcs11-module-token-pin is empty");
            }
            cfg.token_pin = value; // the value itself is never put in a message
        } else if (key == "pkcs11-module-login-behavior") {
            if (value == "auto") {
                cfg.login_behavior = LoginBehavior::Auto;
            } else if (value == "always") {
                cfg.login_behavior = LoginBehavior::Always;
            } else if (value == "never") {
                cfg.login_behavior = LoginBehavior::Never;
            } else {
                return bad_value(key, value, "auto, always or never");
            }
        } else if (key == "pkcs11-module-load-behavior") {
            if (value == "early") {
                cfg.load_behavior = LoadBehavior::Early;
            } else if (value.empty() || value == "lazy") {
                cfg.load_behavior = LoadBehavior::Lazy;
            } else {
                return bad_value(key, value, "early or lazy");
            }
        } else if (key == "pkcs11-module-cache-pins") {
            if (value == "cache") {
                cfg.cache_pins = true;
            } else if (value == "none") {
                cfg.cache_pins = false;
            } else {
                return bad_value(key, value, "cache or none");
            }
        } else if (key == "pkcs11-module-cache-keys") {
            auto b = parse_bool(key, value);
            if (!b) {
                return b.error();
            }
            cfg.cache_keys = b.value();
        } else if (key == "pkcs11-module-cache-sessions") {
            auto n = parse_number(key, value, 1024);
            if (!n) {
                return n.error();
            }
            cfg.cache_sessions = n.value() == 0 ? 1 : static_cast<std::size_t>(n.value());
        } else if (key == "pkcs11-module-quirks") {
            auto q = parse_words(key, value, kQuirks);
            if (!q) {
                return q.error();
            }
            cfg.quirks = std::move(q).value();
        } else if (key == "pkcs11-module-allow-export") {
            // latchset's meaning: 0 allows export of public keys, 1 denies it.
            if (value == "0") {
                cfg.allow_export = true;
            } else if (value == "1") {
                cfg.allow_export = false;
            } else {
                return bad_value(key, value, "0 (allow) or 1 (deny)");
            }
        } else if (key == "pkcs11-module-block-operations") {
            auto ops = parse_words(key, value, kOperations);
            if (!ops) {
                return ops.error();
            }
            cfg.blocked_operations = std::move(ops).value();
        } else if (key == "pkcs11-module-encode-provider-uri-to-pem") {
            auto b = parse_bool(key, value);
            if (!b) {
                return b.error();
            }
            cfg.encode_uri_to_pem = b.value();
        } else if (key == "pkcs11-module-assume-fips") {
            auto b = parse_bool(key, value);
            if (!b) {
                return b.error();
            }
            cfg.assume_fips = b.value();
        } else if (key == "pkcs11-session-wait-ms") {
            auto n = parse_number(key, value, 600000);
            if (!n) {
                return n.error();
            }
            cfg.session_wait = std::chrono::milliseconds(n.value());
        } else {
            return Error(Code::InvalidArgument,
                         "unknown configuration key \"" + key +
                             "\" in the pkcs11 provider section (see the provider manual "
                             "for the accepted keys)");
        }
    }
    return cfg;
}

} // namespace hsmp
