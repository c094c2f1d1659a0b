// Where a token's user PIN comes from (DESIGN.md section 4) and how it is read.
//
// Order: the URI's pin-value / pin-source, then the provider configuration
// (pkcs11-module-token-pin, literal or file:), then the application's passphrase callback.
// The layer never prompts on a terminal. PINs live in SecureBuffer only and never appear in
// an error message: errors name the source (the file path, "pin-value", "callback").
#pragma once

#include "common/result.hpp"
#include "common/secure_buffer.hpp"

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace hsmp::p11 {

/// Asks the application for a PIN; `prompt_info` names the token (never secret).
using PinCallback = std::function<Result<SecureBuffer>(std::string_view prompt_info)>;

/// A PIN and a description of where it came from, for messages.
struct Pin {
    SecureBuffer value;
    std::string source; ///< "pin-value", "pin-source file \"/etc/pin\"", "callback", ...
};

/// Reads a PIN file: the whole file, one trailing "\n" or "\r\n" removed. Errors name the
/// path and the reason (missing, unreadable, empty, too large), never the content.
[[nodiscard]] Result<Pin> read_pin_file(const std::string& path, std::string_view what);

/// Resolves a URI pin-source value: "file:/abs/path" or a plain path (RFC 7512 section
/// 2.4 leaves the form to the application; p11-kit and OpenSC read a file either way).
[[nodiscard]] Result<Pin> read_pin_source(std::string_view pin_source);

/// Parses a configuration PIN value: "file:/path" is read now, anything else is literal.
[[nodiscard]] Result<Pin> config_pin(std::string_view value);

/// The PIN sources known for one lookup, in precedence order.
struct PinSources {
    std::optional<Pin> uri_pin;    ///< from pin-value or pin-source, already read
    std::optional<Pin> config_pin; ///< from the provider configuration
    /// Why the configured PIN could not be read (a missing file): reported when a login
    /// needs it, so the provider still loads and public operations still work.
    std::optional<Error> config_pin_error;
    PinCallback callback; ///< may be empty
};

} // namespace hsmp::p11
