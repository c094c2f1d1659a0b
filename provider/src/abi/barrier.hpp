// The exception barrier (STYLE.md section 4): every thunk OpenSSL calls runs its body through
// guard(), which turns an hsmp::Error result or any C++ exception into an error on OpenSSL's
// queue and the slot's failure value. No exception crosses into OpenSSL.
#pragma once

#include "abi/core.hpp"
#include "common/result.hpp"

#include <exception>
#include <new>

namespace hsmp::abi {

/// Thrown by ops code that has an Error and no way to return it (rare; prefer Result).
struct ErrorException : std::exception {
    explicit ErrorException(Error e) : error(std::move(e)) {}
    [[nodiscard]] const char* what() const noexcept override { return "hsmp::Error"; }
    Error error;
};

/// Runs `body()` and returns its value; on any exception raises the matching reason and
/// returns `failure`.
template <class R, class F> R guard(R failure, F&& body) noexcept {
    try {
        return body();
    } catch (const ErrorException& e) {
        core().raise(e.error);
    } catch (const std::bad_alloc&) {
        core().raise(HSMP_R_OUT_OF_MEMORY, "out of memory");
    } catch (const std::exception& e) {
        core().raise(HSMP_R_INTERNAL, e.what());
    } catch (...) {
        core().raise(HSMP_R_INTERNAL, "unknown exception");
    }
    return failure;
}

} // namespace hsmp::abi
