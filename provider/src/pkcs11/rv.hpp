// CK_RV names and their classification: the one table every caller of a PKCS#11 module
// uses to decide what to do next with a failed call, and to name the failure in errors,
// audit records and metrics.
#pragma once

#include "common/error.hpp"
#include "pkcs11/pkcs11.hpp"

#include <cstdint>
#include <source_location>
#include <span>
#include <string>
#include <string_view>

namespace hsmp::p11 {

/// What a caller does after a C_* call returned this CK_RV. Chosen by recovery action.
enum class RvClass : std::uint8_t {
    Ok,           ///< CKR_OK only
    Retry,        ///< token busy or out of resources: wait briefly, retry on the same session
    Relogin,      ///< the session lost (or never had) the user login: log in, then retry
    Reconnect,    ///< session, token, slot or module state lost: discard the session,
                  ///< re-open (re-initialise, re-find objects), retry once
    PinIncorrect, ///< the PIN was refused: never retry with the same PIN
    PinLocked,    ///< the PIN is locked, expired or not set: only the SO can fix it
    Unsupported,  ///< mechanism, function, attribute or key usage not available
    Argument,     ///< the request itself is malformed (data, template, buffer, parameters)
    Fatal,        ///< everything else, including vendor-defined and unknown values
};

/// One row of the table.
struct RvEntry {
    CK_RV rv;
    const char* name;
    RvClass cls;
};

/// The whole table, sorted by `rv` with no duplicate values. Several names appear twice
/// (see rv.cpp: p11-kit's header disagrees with the OASIS values for five codes).
[[nodiscard]] std::span<const RvEntry> rv_table() noexcept;

/// "CKR_PIN_INCORRECT". A value not in the table gives "CKR_VENDOR_DEFINED" when it is
/// >= CKR_VENDOR_DEFINED and "CKR_UNKNOWN" otherwise. Never nullptr; static storage.
[[nodiscard]] const char* rv_name(CK_RV rv) noexcept;

/// Like rv_name, but keeps the number when the name alone would lose it:
/// "CKR_PIN_INCORRECT", "CKR_VENDOR_DEFINED+0x1234", "unknown CK_RV 0x0000abcd".
[[nodiscard]] std::string rv_describe(CK_RV rv);

/// The recovery class; Fatal for values not in the table.
[[nodiscard]] RvClass rv_class(CK_RV rv) noexcept;

/// Stable lower-case name of a class ("pin-incorrect"), for messages and tests.
[[nodiscard]] std::string_view rv_class_name(RvClass cls) noexcept;

/// The hsmp::Code for a failed call: PinIncorrect and Relogin → Unauthenticated,
/// PinLocked → Locked, Retry and Reconnect → Unavailable, Unsupported → Unsupported,
/// Argument → InvalidArgument, Fatal → Internal. CKR_OK is not a failure and maps to
/// Internal (asking is a bug).
[[nodiscard]] hsmp::Code rv_code(CK_RV rv) noexcept;

/// The Error for a failed call: `function` is the C_* name, `context` a short
/// description (a redacted URI at most, never a PIN).
[[nodiscard]] hsmp::Error rv_error(std::string_view function, CK_RV rv, std::string context,
                                   std::source_location where = std::source_location::current());

} // namespace hsmp::p11
