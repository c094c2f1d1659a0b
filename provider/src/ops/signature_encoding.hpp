// Pure encodings behind the signature operations: the digests a token signature can use and
// their PKCS#11 names, DigestInfo, ECDSA-Sig-Value from PKCS#11's r || s, RSA-PSS salt
// lengths, EMSA-PSS, and the X.509 AlgorithmIdentifier of each signature. No token and no
// provider context, so each is unit-tested against OpenSSL's default provider
// (tests/unit/ops/signature_encoding_test.cpp).
//
// The per-signature helpers (digest_info, ecdsa_rs_to_der) write into caller buffers and
// allocate nothing: they run once per signature on the hot path.
#pragma once

#include "common/result.hpp"
#include "pkcs11/pkcs11.hpp"

#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace hsmp::ops::sig {

using Bytes = std::vector<std::uint8_t>;

/// A digest this provider signs with, and its names in PKCS#11 (0 where PKCS#11 2.40 has
/// none, e.g. no combined mechanism for SHA-3).
struct DigestSpec {
    int nid;                                 ///< OpenSSL NID (NID_sha256)
    const char* name;                        ///< OpenSSL canonical name ("SHA2-256")
    std::size_t size;                        ///< output bytes
    std::span<const std::uint8_t> info;      ///< DigestInfo DER up to the digest bytes
    CK_MECHANISM_TYPE hash;                  ///< CK_RSA_PKCS_PSS_PARAMS.hashAlg
    CK_RSA_PKCS_MGF_TYPE mgf;                ///< CKG_MGF1_* for this digest
    CK_MECHANISM_TYPE rsa_pkcs;              ///< CKM_SHA256_RSA_PKCS and friends
    CK_MECHANISM_TYPE rsa_pss;               ///< CKM_SHA256_RSA_PKCS_PSS and friends
    CK_MECHANISM_TYPE ecdsa;                 ///< CKM_ECDSA_SHA256 and friends
    std::span<const std::uint8_t> rsa_oid;   ///< sha*WithRSAEncryption OID contents
    std::span<const std::uint8_t> ecdsa_oid; ///< ecdsa-with-SHA* OID contents, empty if none
};

/// The spec for `md`, or null for a digest with no signature use here (MD5, MD5-SHA1,
/// SHAKE, SM3...). Compares NIDs: no name lookup, no lock.
[[nodiscard]] const DigestSpec* digest_spec(const EVP_MD* md) noexcept;
/// Every supported digest, strongest last (for tests and messages).
[[nodiscard]] std::span<const DigestSpec> digest_specs() noexcept;

/// Longest DigestInfo: the 19-byte prefix of a SHA-2/SHA-3 OID plus a 64-byte digest.
inline constexpr std::size_t kMaxDigestInfo = 19 + 64;

/// DigestInfo (RFC 8017 section 9.2) of `digest` into `out`. Returns the bytes written, or
/// 0 when `digest` is not `d.size` long or `out` is too small.
[[nodiscard]] std::size_t digest_info(const DigestSpec& d, std::span<const std::uint8_t> digest,
                                      std::span<std::uint8_t> out) noexcept;

/// ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 3279) from PKCS#11's
/// big-endian r || s of equal halves, in minimal DER, written straight into `out`. Returns
/// the bytes written, or 0 when `rs` is empty, odd-sized or over 248 bytes, or the encoding
/// does not fit `out`.
[[nodiscard]] std::size_t ecdsa_rs_to_der(std::span<const std::uint8_t> rs,
                                          std::span<std::uint8_t> out) noexcept;

/// RSA-PSS salt length as OpenSSL's saltlen parameter names it: "digest", "max", "auto" or
/// a decimal number. Returns OpenSSL's RSA_PSS_SALTLEN_* value or the number.
[[nodiscard]] Result<int> parse_pss_saltlen(std::string_view text);
/// The salt length a signature made now uses: RSA_PSS_SALTLEN_DIGEST is the digest size,
/// MAX and AUTO the largest that fits (emLen - hLen - 2, RFC 8017 section 9.1.1), a number
/// itself. Fails when the salt does not fit the key or the mode is unknown.
[[nodiscard]] Result<std::size_t> pss_salt_length(int mode, std::size_t md_size, int key_bits);

/// EMSA-PSS-ENCODE (RFC 8017 section 9.1.1) of `m_hash` with `salt`, left-padded to the
/// modulus size, ready for raw RSA. For tokens that cannot take an MGF1 digest other than
/// the message digest: the block is built here and carries no secret.
[[nodiscard]] Result<Bytes> emsa_pss_encode(const EVP_MD* md, const EVP_MD* mgf1,
                                            std::span<const std::uint8_t> m_hash,
                                            std::span<const std::uint8_t> salt, int mod_bits);

/// AlgorithmIdentifier DER of the signature, as X.509 and PKCS#10 signing ask for it
/// through OSSL_SIGNATURE_PARAM_ALGORITHM_ID: sha*WithRSAEncryption (NULL parameters),
/// RSASSA-PSS with RSASSA-PSS-params (RFC 4055: defaults omitted, hash identifiers with NULL
/// parameters), ecdsa-with-SHA* (no parameters, RFC 5758), Ed25519/Ed448 (no parameters,
/// RFC 8410). Written from constant tables: byte-identical to OpenSSL's default provider.
[[nodiscard]] Result<Bytes> algorithm_id_rsa_pkcs1(const EVP_MD* md);
[[nodiscard]] Result<Bytes> algorithm_id_rsa_pss(const EVP_MD* md, const EVP_MD* mgf1,
                                                 std::size_t salt_len);
[[nodiscard]] Result<Bytes> algorithm_id_ecdsa(const EVP_MD* md);
[[nodiscard]] Result<Bytes> algorithm_id_eddsa(bool ed25519);

/// "CKM_RSA_PKCS", "CKM_SHA256_RSA_PKCS_PSS", ...: the mechanisms the signature code uses.
[[nodiscard]] std::string_view mechanism_name(CK_MECHANISM_TYPE mechanism) noexcept;

} // namespace hsmp::ops::sig
