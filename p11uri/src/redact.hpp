// Keeping PINs out of parse error messages.
#pragma once

#include <string>
#include <string_view>

namespace hsmp::uri::detail {

/// True iff `text` starts with "pkcs11:", compared case-insensitively.
bool has_scheme(std::string_view text) noexcept;

/// True iff an attribute segment ("name=value", without separators) may carry a PIN: its
/// name, ignoring leading whitespace, ASCII case and percent-encoding, starts with
/// "pin-value" (or "pin_value", "pinvalue"). Deliberately loose: it also catches malformed
/// and misspelt forms, because over-masking an error message costs nothing.
bool looks_like_pin_value(std::string_view segment) noexcept;

/// True iff looks_like_pin_value holds at the start of `segment` or after any ";", "&", "?"
/// or ":" inside it, i.e. wherever echo_input() would mask.
bool may_hold_pin(std::string_view segment) noexcept;

/// `text` made safe to quote in a one-line message: every segment that looks_like_pin_value
/// becomes "pin-value=***", bytes outside printable ASCII become \xNN, '"' and '\' are
/// escaped, and the result is capped at about 200 characters with "..." appended.
std::string echo_input(std::string_view text);

} // namespace hsmp::uri::detail
