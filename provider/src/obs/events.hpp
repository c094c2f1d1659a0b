// Plain event records that lower layers emit and obs/ consumes. The fields are enums,
// counts, durations, token serials, CKA_LABEL and CKA_ID bytes: nothing here can carry a
// PIN, key material or caller data, by construction.
//
// Two streams: CallEvents (every C_* call, from the pkcs11 layer's call wrapper) and
// OpEvents (every private-key operation, login and key load — DESIGN.md sections 7 and
// 10). Each has one process-wide observer, installed by the abi layer; emitting is one
// atomic load when none is installed. Observers must not block, allocate on every event,
// or call back into the pkcs11 layer: they run on the thread that performed the
// operation, right after it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace hsmp::obs {

/// One call into a PKCS#11 module, reported by the pkcs11 layer's call wrapper.
struct CallEvent {
    std::string_view function; ///< "C_Sign"; a string literal, valid forever
    unsigned long rv;          ///< CK_RV returned
    std::chrono::nanoseconds duration;
};

/// Receives CallEvents. Must not block and must not call back into the pkcs11 layer.
using CallObserver = void (*)(const CallEvent& event) noexcept;

/// Installs the process-wide observer (nullptr to remove). Set once by the abi layer at
/// provider load; reads are lock-free.
void set_call_observer(CallObserver observer) noexcept;
[[nodiscard]] CallObserver call_observer() noexcept;

/// What an OpEvent reports. The first three are private-key operations made in the
/// token (counted per key and timed); the order is fixed, obs/ indexes tables by it.
enum class Operation : std::uint8_t {
    Sign,    ///< C_SignInit + C_Sign
    Decrypt, ///< reserved: RSA decryption (DESIGN.md section 10). A PKCS#1 v1.5
             ///< decryption must report an outcome that does not depend on the padding
             ///< check (STYLE.md section 5): metrics would otherwise be a padding oracle.
    Derive,  ///< reserved: ECDH
    Login,   ///< C_Login of the user (token_serial only; no key)
    KeyLoad, ///< a token private key became a provider key (store, decoder)
};
inline constexpr std::size_t kKeyOperationCount = 3;
inline constexpr std::size_t kOperationCount = 5;

/// True for Sign, Decrypt and Derive.
[[nodiscard]] constexpr bool is_key_operation(Operation op) noexcept {
    return static_cast<std::size_t>(op) < kKeyOperationCount;
}

/// "sign", "decrypt", "derive", "login", "key_load": metric label values and audit names.
[[nodiscard]] std::string_view operation_name(Operation op) noexcept;

enum class Outcome : std::uint8_t {
    Ok,
    Failed, ///< the token or the provider failed the request
    Denied, ///< authentication refused: PIN wrong, locked or missing, or withheld by the
            ///< anti-lockout rules (DESIGN.md section 4)
};

/// One private-key operation, login or key load. The views point into the key's and
/// token's identity and are valid only during the observer call.
struct OpEvent {
    Operation operation = Operation::Sign;
    Outcome outcome = Outcome::Ok;
    unsigned long rv = 0;                 ///< CK_RV of the failing call; 0 when none
    unsigned long mechanism = 0;          ///< CKM_* of a key operation; 0 otherwise
    std::string_view token_serial;        ///< CK_TOKEN_INFO.serialNumber, blanks trimmed
    std::string_view key_label;           ///< CKA_LABEL; empty for Login
    std::span<const std::uint8_t> key_id; ///< CKA_ID; empty for Login
    std::chrono::nanoseconds duration{0}; ///< wall time of the whole operation
};

/// Receives OpEvents. Same rules as CallObserver.
using OpObserver = void (*)(const OpEvent& event) noexcept;

/// Installs the process-wide observer (nullptr to remove). Set by the abi layer at
/// provider load; reads are lock-free.
void set_op_observer(OpObserver observer) noexcept;
[[nodiscard]] OpObserver op_observer() noexcept;

/// Hands `event` to the installed observer, if any.
void emit(const OpEvent& event) noexcept;

} // namespace hsmp::obs
