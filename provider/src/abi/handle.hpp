// Typed handles for the void* pointers OpenSSL keeps for the provider (key data, operation
// contexts). Each carries a magic tag checked on every use (as Botan's FFI handles do), so a
// pointer from another provider or a freed handle is refused instead of misused.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>

namespace hsmp::abi {

template <class T, std::uint32_t Magic> struct Handle {
    static constexpr std::uint32_t kMagic = Magic;
    std::uint32_t magic = Magic;
    T value;

    template <class... Args> explicit Handle(Args&&... args) : value(std::forward<Args>(args)...) {}
    ~Handle() { magic = 0; }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;

    /// The handle behind an OpenSSL void*, or nullptr when it is not one of ours.
    static Handle* from(void* p) noexcept {
        auto* h = static_cast<Handle*>(p);
        return (h != nullptr && h->magic == Magic) ? h : nullptr;
    }
    static const Handle* from(const void* p) noexcept {
        const auto* h = static_cast<const Handle*>(p);
        return (h != nullptr && h->magic == Magic) ? h : nullptr;
    }
};

} // namespace hsmp::abi
