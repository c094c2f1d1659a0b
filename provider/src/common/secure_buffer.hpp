// SecureBuffer: bytes that hold a secret (a PIN). Locked in memory where the OS allows
// it, so it is not written to swap, and wiped on destruction and on every reassignment.
// Copying is explicit (clone()), so a secret is never duplicated by accident.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace hsmp {

class SecureBuffer {
public:
    SecureBuffer() noexcept = default;
    explicit SecureBuffer(std::string_view bytes);
    ~SecureBuffer();
    SecureBuffer(SecureBuffer&& other) noexcept;
    SecureBuffer& operator=(SecureBuffer&& other) noexcept;
    SecureBuffer(const SecureBuffer&) = delete;
    SecureBuffer& operator=(const SecureBuffer&) = delete;

    [[nodiscard]] SecureBuffer clone() const { return SecureBuffer(view()); }
    [[nodiscard]] std::string_view view() const noexcept {
        return {reinterpret_cast<const char*>(m_data), m_size};
    }
    [[nodiscard]] const std::uint8_t* data() const noexcept { return m_data; }
    [[nodiscard]] std::uint8_t* data() noexcept { return m_data; }
    [[nodiscard]] std::size_t size() const noexcept { return m_size; }
    [[nodiscard]] bool empty() const noexcept { return m_size == 0; }
    /// Wipes and frees the contents.
    void clear() noexcept;

    /// Constant-time comparison of contents (length is not secret).
    [[nodiscard]] bool equals(std::string_view other) const noexcept;

private:
    std::uint8_t* m_data = nullptr;
    std::size_t m_size = 0;
};

/// Overwrites memory in a way the compiler may not elide.
void secure_wipe(void* ptr, std::size_t len) noexcept;

} // namespace hsmp
