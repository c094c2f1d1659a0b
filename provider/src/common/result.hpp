// Result<T>: a value or an Error. A thin stand-in for std::expected<T, Error> (C++23),
// kept small so it can be swapped for the standard type later.
#pragma once

#include "common/error.hpp"

#include <cassert>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace hsmp {

template <class T> class [[nodiscard]] Result {
public:
    Result(T value)
        : m_v(std::in_place_index<0>, std::move(value)) {} // NOLINT(google-explicit-constructor)
    Result(Error error)
        : m_v(std::in_place_index<1>, std::move(error)) {} // NOLINT(google-explicit-constructor)

    [[nodiscard]] bool ok() const noexcept { return m_v.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    [[nodiscard]] T& value() & {
        assert(ok());
        return std::get<0>(m_v);
    }
    [[nodiscard]] const T& value() const& {
        assert(ok());
        return std::get<0>(m_v);
    }
    [[nodiscard]] T&& value() && {
        assert(ok());
        return std::get<0>(std::move(m_v));
    }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    [[nodiscard]] const Error& error() const& {
        assert(!ok());
        return std::get<1>(m_v);
    }
    [[nodiscard]] Error&& error() && {
        assert(!ok());
        return std::get<1>(std::move(m_v));
    }

private:
    std::variant<T, Error> m_v;
};

/// Result of an operation that yields nothing but can fail. Success holds no Error (no
/// strings built and destroyed): it is returned several times per signature.
template <> class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : m_error(std::move(error)) {} // NOLINT(google-explicit-constructor)

    [[nodiscard]] bool ok() const noexcept { return !m_error.has_value(); }
    explicit operator bool() const noexcept { return ok(); }
    [[nodiscard]] const Error& error() const& {
        assert(!ok());
        return *m_error;
    }

private:
    std::optional<Error> m_error;
};

/// The success value of Result<void>.
inline Result<void> ok() {
    return {};
}

} // namespace hsmp
