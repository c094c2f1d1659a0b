// The pkcs11 layer's side of OpEvents (obs/events.hpp): the one place where a key's
// identity (CKA_LABEL, CKA_ID, token serial) and an operation's result become an event.
// Every private-key operation (operation.cpp), every user login (token.cpp) and every key
// load (ops/key.cpp) reports through here, so audit and metrics see all of them alike
// (DESIGN.md sections 7 and 10). The layer knows nothing of what observers do.
#pragma once

#include "common/error.hpp"
#include "obs/events.hpp"
#include "pkcs11/object.hpp"
#include "pkcs11/token.hpp"

#include <chrono>

namespace hsmp::p11 {

/// The OpEvent outcome of a result: no error is Ok; Unauthenticated and Locked (wrong,
/// missing, locked or withheld PIN) are Denied; every other error is Failed.
[[nodiscard]] obs::Outcome outcome_of(const Error* error) noexcept;

/// Reports `op` on `key` (nullptr `error`: success). `mechanism` is the CKM_* used, 0 for
/// none.
void report_key_event(obs::Operation op, const Object& key, unsigned long mechanism,
                      const Error* error, std::chrono::nanoseconds duration) noexcept;

/// Reports a user login attempt on `token`.
void report_login(const Token& token, const Error* error,
                  std::chrono::nanoseconds duration) noexcept;

/// Runs `body()` (which returns a Result) and reports it as `op` on `key`, timed from
/// before the session is leased to after the last call. When no observer is installed it
/// only runs `body()`: not even the clock is read.
template <class F>
auto observed(obs::Operation op, const Object& key, unsigned long mechanism, F&& body)
    -> decltype(body()) {
    if (obs::op_observer() == nullptr) {
        return body();
    }
    const auto start = std::chrono::steady_clock::now();
    auto result = body();
    report_key_event(op, key, mechanism, result ? nullptr : &result.error(),
                     std::chrono::steady_clock::now() - start);
    return result;
}

} // namespace hsmp::p11
