// The algorithm tables each operation family offers (defined in dispatch_<family>.cpp) and
// the property string they are registered under.
#pragma once

#include "ops/offer.hpp"

#include <openssl/core.h>

#include <array>
#include <cstddef>

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
// Key management and signatures: only the algorithms of the offered families
// (ops/offer.hpp), from tables precomputed for every combination.
__attribute__((weak)) const OSSL_ALGORITHM* keymgmt_algorithms(ops::FamilySet offered) noexcept;
__attribute__((weak)) const OSSL_ALGORITHM* signature_algorithms(ops::FamilySet offered) noexcept;
__attribute__((weak)) const OSSL_ALGORITHM* store_algorithms() noexcept;
__attribute__((weak)) const OSSL_ALGORITHM* encoder_algorithms() noexcept;
__attribute__((weak)) const OSSL_ALGORITHM* decoder_algorithms() noexcept;

/// One algorithm of a family-dependent operation.
struct FamilyAlgorithm {
    ops::Family family;
    OSSL_ALGORITHM algorithm;
};

/// For every FamilySet, the NULL-terminated table of the algorithms whose family it holds,
/// in the order of `all`. Computed once; OpenSSL keeps pointers into the tables.
template <std::size_t N>
using FamilyTables = std::array<std::array<OSSL_ALGORITHM, N + 1>, ops::FamilySet::kCombinations>;

template <std::size_t N>
FamilyTables<N> family_tables(const std::array<FamilyAlgorithm, N>& all) noexcept {
    FamilyTables<N> tables{};
    for (std::size_t set = 0; set < ops::FamilySet::kCombinations; ++set) {
        const auto offered = ops::FamilySet::from_index(set);
        std::size_t used = 0;
        for (const FamilyAlgorithm& a : all) {
            if (offered.has(a.family)) {
                tables.at(set).at(used++) = a.algorithm;
            }
        }
        tables.at(set).at(used) = OSSL_ALGORITHM{nullptr, nullptr, nullptr, nullptr};
    }
    return tables;
}

} // namespace hsmp::abi
