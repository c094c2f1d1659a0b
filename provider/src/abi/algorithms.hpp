// The algorithm tables each operation family offers (defined in dispatch_<family>.cpp) and
// the property string they are registered under.
#pragma once

#include <openssl/core.h>

namespace hsmp::abi {

inline constexpr const char* kProperties = "provider=pkcs11";

// Weak while the families land one by one: entry.cpp offers nothing for a family whose
// dispatch file is not linked in (its address is then null).
__attribute__((weak)) const OSSL_ALGORITHM* keymgmt_algorithms() noexcept;
__attribute__((weak)) const OSSL_ALGORITHM* signature_algorithms() noexcept;
__attribute__((weak)) const OSSL_ALGORITHM* store_algorithms() noexcept;
__attribute__((weak)) const OSSL_ALGORITHM* encoder_algorithms() noexcept;
__attribute__((weak)) const OSSL_ALGORITHM* decoder_algorithms() noexcept;

} // namespace hsmp::abi
