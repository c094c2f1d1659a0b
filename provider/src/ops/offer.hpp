// Which of the provider's algorithms OpenSSL is offered (query_operation), decided by what
// the configured module's tokens can sign with (the issue: "algorithms are offered
// according to the token's mechanism list").
//
// OpenSSL asks once per operation and caches the answer for the provider's lifetime, so
// the answer is one snapshot: taken at the first question, from every token of the
// configured module (the p11-kit proxy when none is configured), kept for good and inherited
// by forked children, which never ask the module again for it. When the module cannot be
// asked (not loadable, a slot without a token, a token that does not answer) every
// algorithm is offered, as before, and a missing mechanism stays a named error at signing
// time: an absent token never makes the provider fail to load or offer less.
#pragma once

#include "pkcs11/pkcs11.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace hsmp::ops {

/// A family of key and signature algorithms that stands or falls with the same PKCS#11
/// mechanisms. Key management and signatures of a family are offered together: a token key
/// of a family no token can sign with is of no use through this provider.
enum class Family : std::uint8_t {
    Rsa,    ///< "RSA" keys and signatures (PKCS#1 v1.5, or PSS by pad-mode)
    RsaPss, ///< "RSA-PSS" keys and signatures
    Ec,     ///< "EC" keys, "ECDSA" signatures
    EdDsa,  ///< "ED25519" and "ED448" keys and signatures
};
inline constexpr std::size_t kFamilyCount = 4;

/// "RSA", "RSA-PSS", "EC", "EdDSA", for messages.
[[nodiscard]] std::string_view family_name(Family family) noexcept;

/// The mechanisms (any one of them, with CKF_SIGN) that make a family available, as the
/// signature code uses them: the raw mechanism or a combined hash-and-sign one, and for PSS
/// also raw RSA (CKM_RSA_X_509), over which the provider builds the EMSA-PSS block.
[[nodiscard]] std::span<const CK_MECHANISM_TYPE> family_mechanisms(Family family);

/// A set of families, small enough to index the precomputed algorithm tables with.
class FamilySet {
public:
    static constexpr std::size_t kCombinations = std::size_t{1} << kFamilyCount;
    [[nodiscard]] static constexpr FamilySet all() noexcept { return FamilySet(kCombinations - 1); }
    [[nodiscard]] static constexpr FamilySet from_index(std::size_t index) noexcept {
        return FamilySet(index & (kCombinations - 1));
    }
    constexpr FamilySet() noexcept = default;
    constexpr void add(Family f) noexcept { m_bits |= bit(f); }
    [[nodiscard]] constexpr bool has(Family f) const noexcept { return (m_bits & bit(f)) != 0; }
    [[nodiscard]] constexpr std::size_t index() const noexcept { return m_bits; }
    constexpr bool operator==(const FamilySet&) const noexcept = default;

private:
    constexpr explicit FamilySet(std::size_t bits) noexcept : m_bits(bits) {}
    static constexpr std::size_t bit(Family f) noexcept {
        return std::size_t{1} << static_cast<unsigned>(f);
    }
    std::size_t m_bits = 0;
};

/// The answer to query_operation for key management and signatures.
class AlgorithmOffer {
public:
    /// Every family: the module could not be asked (`why` says what went wrong).
    [[nodiscard]] static AlgorithmOffer everything(std::string why);
    /// The families for which `signing` (mechanisms some token offers with CKF_SIGN, any
    /// order) holds a mechanism; `source` names the tokens asked, for messages.
    [[nodiscard]] static AlgorithmOffer from_mechanisms(std::span<const CK_MECHANISM_TYPE> signing,
                                                        std::string source);
    /// Every mechanism any family depends on: the ones worth asking a token about.
    [[nodiscard]] static std::span<const CK_MECHANISM_TYPE> candidates();

    [[nodiscard]] FamilySet families() const noexcept { return m_families; }
    [[nodiscard]] bool offers(Family family) const noexcept { return m_families.has(family); }
    /// True when decided from tokens' mechanism lists, false for the fallback.
    [[nodiscard]] bool from_tokens() const noexcept { return m_from_tokens; }
    /// Where the answer came from: "the tokens of MODULE", or why none were asked.
    [[nodiscard]] const std::string& basis() const noexcept { return m_basis; }

    /// Why a key of `family` cannot be used through this provider (call when !offers()).
    [[nodiscard]] std::string not_offered_reason(Family family) const;

private:
    AlgorithmOffer(FamilySet families, bool from_tokens, std::string basis)
        : m_families(families), m_from_tokens(from_tokens), m_basis(std::move(basis)) {}

    FamilySet m_families;
    bool m_from_tokens;
    std::string m_basis;
};

} // namespace hsmp::ops
