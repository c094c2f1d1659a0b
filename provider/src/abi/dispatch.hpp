// Building OSSL_DISPATCH tables with a compile-time check of every entry: slot<T>() accepts a
// function only if it converts to OpenSSL's declared type for that slot (OSSL_FUNC_*_fn),
// before the cast to the generic void (*)(void) the table stores.
#pragma once

#include <openssl/core.h>

#include <type_traits>

namespace hsmp::abi {

template <class Expected, class Fn> OSSL_DISPATCH slot(int id, Fn fn) noexcept {
    static_assert(std::is_convertible_v<Fn, Expected>,
                  "function does not match the OpenSSL dispatch slot's type");
    const Expected checked = fn;
    return OSSL_DISPATCH{id, reinterpret_cast<void (*)()>(checked)};
}

} // namespace hsmp::abi
