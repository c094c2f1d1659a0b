// The functions the OpenSSL core hands the provider at OSSL_provider_init, and the one place
// that turns an hsmp::Error into an error on OpenSSL's queue.
#pragma once

#include "abi/reasons.hpp"
#include "common/error.hpp"

#include <openssl/core.h>
#include <openssl/core_dispatch.h>

#include <source_location>
#include <string>
#include <utility>
#include <vector>

namespace hsmp::abi {

struct CoreFunctions {
    const OSSL_CORE_HANDLE* handle = nullptr;
    OSSL_FUNC_core_get_params_fn* get_params = nullptr;
    OSSL_FUNC_core_get_libctx_fn* get_libctx = nullptr;
    OSSL_FUNC_core_new_error_fn* new_error = nullptr;
    OSSL_FUNC_core_set_error_debug_fn* set_error_debug = nullptr;
    OSSL_FUNC_core_vset_error_fn* vset_error = nullptr;

    /// Reads the functions out of the `in` dispatch table.
    static CoreFunctions capture(const OSSL_CORE_HANDLE* handle, const OSSL_DISPATCH* in);

    /// Raises `error` on the calling thread's error queue, with the file and line where it
    /// was created and its reason. The data text is the error's message.
    void raise(const Error& error) const noexcept;
    /// Raises a reason with a message that outlives the call (a literal, or a text kept by
    /// a key), reported at `where`. Formats and allocates nothing of its own, for refusals
    /// that OpenSSL provokes and discards on a hot path.
    void raise(Reason reason, const char* message,
               const std::source_location& where = std::source_location::current()) const noexcept;

    /// A string parameter the core knows ("provider-name", "module-filename", a config
    /// key), or empty.
    [[nodiscard]] std::string get_string(const char* name) const;
};

/// The process's core functions, for code that raises errors without a provider context at
/// hand (set once at the first OSSL_provider_init; the core's functions do not change).
[[nodiscard]] const CoreFunctions& core() noexcept;
void set_core(const CoreFunctions& core) noexcept;

} // namespace hsmp::abi
