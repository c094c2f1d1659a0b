// Private-key operations as self-contained calls: everything the call needs (the key
// object, the mechanism, the input) is passed in, so an operation can run on any thread,
// including a worker thread serving an OpenSSL ASYNC_JOB (DESIGN.md sections 8, 10).
#pragma once

#include "common/result.hpp"
#include "pkcs11/object.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace hsmp::p11 {

/// A mechanism and its parameter block (which must outlive the call).
struct Mechanism {
    CK_MECHANISM_TYPE type = 0;
    void* parameter = nullptr;
    CK_ULONG parameter_len = 0;
};

/// Signs `data` with `key` in one C_SignInit + C_Sign, on a pooled session, recovering
/// once from session or device loss, straight into `out`, which must hold the key's largest
/// signature (one C_Sign call, nothing allocated). Returns the signature's length; a token
/// that wants more room than `out` answers CKR_BUFFER_TOO_SMALL, returned as the error.
[[nodiscard]] Result<std::size_t> sign_into(Object& key, const Mechanism& mechanism,
                                            std::span<const std::uint8_t> data,
                                            std::span<std::uint8_t> out);

/// sign_into() with a buffer of its own. With `size_hint` (the key's largest signature)
/// the signature is asked for directly; without it, the length is asked for first.
[[nodiscard]] Result<std::vector<std::uint8_t>> sign(Object& key, const Mechanism& mechanism,
                                                     std::span<const std::uint8_t> data,
                                                     std::size_t size_hint = 0);

} // namespace hsmp::p11
