// The provider's openssl.cnf keys (DESIGN.md section 2): latchset/pkcs11-provider's keys with
// the same meaning, plus our own pkcs11- keys. Parsing is pure (no OpenSSL, no module): the
// abi layer collects the section's key/value pairs and hands them here. An unknown key is an
// error naming the key; a bad value names key and value (never a PIN value).
#pragma once

#include "common/result.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hsmp {

enum class LoginBehavior : std::uint8_t { Auto, Always, Never };
enum class LoadBehavior : std::uint8_t { Lazy, Early };

struct ProviderConfig {
    std::optional<std::string> module_path; ///< pkcs11-module-path (env may override)
    std::string module_init_args;           ///< pkcs11-module-init-args
    std::optional<std::string> token_pin;   ///< pkcs11-module-token-pin: literal or file:/path
    LoginBehavior login_behavior = LoginBehavior::Auto;
    LoadBehavior load_behavior = LoadBehavior::Lazy;
    bool cache_pins = true;          ///< pkcs11-module-cache-pins (re-login after fork needs it)
    bool cache_keys = true;          ///< pkcs11-module-cache-keys: session-object copies of keys
    std::size_t cache_sessions = 32; ///< pkcs11-module-cache-sessions: session pool cap
    std::set<std::string> quirks;    ///< pkcs11-module-quirks
    bool allow_export = true;        ///< pkcs11-module-allow-export (0 = allow, 1 = deny)
    std::set<std::string> blocked_operations;     ///< pkcs11-module-block-operations
    bool encode_uri_to_pem = true;                ///< pkcs11-module-encode-provider-uri-to-pem
    bool assume_fips = false;                     ///< pkcs11-module-assume-fips
    std::chrono::milliseconds session_wait{5000}; ///< pkcs11-session-wait-ms
};

/// Keys OpenSSL's own configuration module consumes in a provider section; ignored here.
[[nodiscard]] bool is_openssl_provider_key(std::string_view key) noexcept;

/// Parses the key/value pairs of the provider's configuration section.
[[nodiscard]] Result<ProviderConfig>
parse_config(const std::vector<std::pair<std::string, std::string>>& entries);

/// Every key parse_config() accepts, for documentation and for the core_get_params request.
[[nodiscard]] const std::vector<std::string_view>& config_keys() noexcept;

} // namespace hsmp
