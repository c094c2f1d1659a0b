// The algorithm tables each operation family offers (defined in dispatch_<family>.cpp) and
// the property string they are registered under.
#pragma once

#include <openssl/core.h>

namespace hsmp::abi {

inline constexpr const char* kProperties = "provider=pkcs11";

// The signature algorithm our keymgmt names for its own keys (keymgmt
// query_operation_name). OpenSSL 3.0's EVP_DigestSignInit_ex fetches the name it is given
// with the caller's properties first and takes whichever provider answers; only when that
// provider cannot use the key does it try the key's own provider. Under a canonical name
// ("ECDSA") the first answer is the default provider's, so every signature with a token key
// began with a failed attempt to export the key there (a fetch, a keymgmt fetch and a
// refused export: about 1.7 µs of EVP_DigestSignInit_ex's 4.9 µs for a P-256 key). These
// names exist only in this provider, so the first fetch finds our implementation. The
// canonical names stay registered for callers that fetch them. An operation family added
// later (RSA decryption, ECDH) is fetched the same way and wants names of its own too.
inline constexpr const char* kRsaSignatureOwnName = "HSMP-RSA";
inline constexpr const char* kEcdsaSignatureOwnName = "HSMP-ECDSA";
inline constexpr const char* kEd25519SignatureOwnName = "HSMP-ED25519";
inline constexpr const char* kEd448SignatureOwnName = "HSMP-ED448";

// Weak while the families land one by one: entry.cpp offers nothing for a family whose
// dispatch file is not linked in (its address is then null).
__attribute__((weak)) const OSSL_ALGORITHM* keymgmt_algorithms() noexcept;
__attribute__((weak)) const OSSL_ALGORITHM* signature_algorithms() noexcept;
__attribute__((weak)) const OSSL_ALGORITHM* store_algorithms() noexcept;
__attribute__((weak)) const OSSL_ALGORITHM* encoder_algorithms() noexcept;
__attribute__((weak)) const OSSL_ALGORITHM* decoder_algorithms() noexcept;

} // namespace hsmp::abi
