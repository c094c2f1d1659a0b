// Error values shared by every layer below abi/.
//
// An Error says what the caller should do next (its Code, Abseil's rule), which native
// call failed (the C_* function and the CK_RV, when the cause is a PKCS#11 module) and a
// short human context. It never holds a PIN or key material: callers pass redacted URIs.
#pragma once

#include <cstdint>
#include <source_location>
#include <string>
#include <string_view>

namespace hsmp {

/// What the caller does next. Chosen by recovery action, not by origin.
enum class Code : std::uint8_t {
    NotFound,        ///< a URI matched no object, token or module
    Ambiguous,       ///< more than one private key matched
    Unauthenticated, ///< PIN missing, wrong, or refused by the anti-lockout rules
    Locked,          ///< PIN locked: the security officer must reset it
    Unavailable,     ///< token removed, session invalid, busy: retry on a fresh session
    Unsupported,     ///< mechanism, parameter or feature not available
    InvalidArgument, ///< caller input is malformed
    Internal,        ///< a bug or an unexpected library failure
};

/// strerror text of an errno value (thread safe), for messages that name a file.
[[nodiscard]] std::string errno_text(int err);

/// Stable lower-case name of a Code, for messages and tests.
[[nodiscard]] std::string_view code_name(Code code) noexcept;

class Error {
public:
    /// An error without a PKCS#11 cause.
    Error(Code code, std::string context,
          std::source_location where = std::source_location::current());

    /// An error caused by a PKCS#11 call: `function` is the C_* name, `rv` its return
    /// value, `rv_name` the CKR_* name (from pkcs11/rv.hpp).
    Error(Code code, std::string_view function, unsigned long rv, std::string_view rv_name,
          std::string context, std::source_location where = std::source_location::current());

    [[nodiscard]] Code code() const noexcept { return m_code; }
    /// The CK_RV of the failing call, or 0 (CKR_OK) when the cause is not a module call.
    [[nodiscard]] unsigned long rv() const noexcept { return m_rv; }
    [[nodiscard]] bool has_rv() const noexcept { return !m_function.empty(); }
    /// "C_Login" or empty.
    [[nodiscard]] const std::string& function() const noexcept { return m_function; }
    /// "CKR_PIN_INCORRECT" or empty.
    [[nodiscard]] const std::string& rv_name() const noexcept { return m_rv_name; }
    [[nodiscard]] const std::string& context() const noexcept { return m_context; }
    [[nodiscard]] const std::source_location& where() const noexcept { return m_where; }

    /// One line for humans: "context: C_Login: CKR_PIN_INCORRECT" or just the context.
    [[nodiscard]] std::string message() const;

    /// The same error with more context in front: "outer: inner".
    [[nodiscard]] Error with_context(std::string_view outer) const;

private:
    Code m_code;
    unsigned long m_rv = 0;
    std::string m_function;
    std::string m_rv_name;
    std::string m_context;
    std::source_location m_where;
};

} // namespace hsmp
