// Plain event records that lower layers emit and obs/ consumes. The fields are enums,
// counts, durations, token serials and CKA_ID hex: nothing here can carry a PIN, key
// material or caller data, by construction.
#pragma once

#include <chrono>
#include <cstdint>
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

} // namespace hsmp::obs
