#include "common/secure_buffer.hpp"

#include <sys/mman.h>

#include <cstring>
#include <new>

namespace hsmp {

void secure_wipe(void* ptr, std::size_t len) noexcept {
    if (ptr == nullptr || len == 0) {
        return;
    }
    // explicit_bzero is glibc's guaranteed-not-elided wipe.
    explicit_bzero(ptr, len);
}

SecureBuffer::SecureBuffer(std::string_view bytes) {
    if (bytes.empty()) {
        return;
    }
    m_data = new std::uint8_t[bytes.size()];
    m_size = bytes.size();
    // Best effort: mlock can fail under RLIMIT_MEMLOCK; the wipe still happens.
    (void)mlock(m_data, m_size);
    std::memcpy(m_data, bytes.data(), m_size);
}

SecureBuffer::~SecureBuffer() {
    clear();
}

SecureBuffer::SecureBuffer(SecureBuffer&& other) noexcept
    : m_data(other.m_data), m_size(other.m_size) {
    other.m_data = nullptr;
    other.m_size = 0;
}

SecureBuffer& SecureBuffer::operator=(SecureBuffer&& other) noexcept {
    if (this != &other) {
        clear();
        m_data = other.m_data;
        m_size = other.m_size;
        other.m_data = nullptr;
        other.m_size = 0;
    }
    return *this;
}

void SecureBuffer::clear() noexcept {
    if (m_data != nullptr) {
        secure_wipe(m_data, m_size);
        (void)munlock(m_data, m_size);
        delete[] m_data;
    }
    m_data = nullptr;
    m_size = 0;
}

bool SecureBuffer::equals(std::string_view other) const noexcept {
    if (other.size() != m_size) {
        return false;
    }
    unsigned char diff = 0;
    for (std::size_t i = 0; i < m_size; ++i) {
        diff =
            static_cast<unsigned char>(diff | (m_data[i] ^ static_cast<unsigned char>(other[i])));
    }
    return diff == 0;
}

} // namespace hsmp
