#include "ops/signature_encoding.hpp"

#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

#include <array>
#include <charconv>
#include <cstring>
#include <string>

namespace hsmp::ops::sig {

namespace {

// DigestInfo prefixes: SEQUENCE { SEQUENCE { OID, NULL }, OCTET STRING (digest) } up to the
// digest bytes (RFC 8017 section 9.2, note 1). The SHA-2 and SHA-3 OIDs share the NIST arc
// 2.16.840.1.101.3.4.2 and differ in the last arc and the digest length.
constexpr std::array<std::uint8_t, 15> kInfoSha1 = {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e,
                                                    0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14};

constexpr std::array<std::uint8_t, 19> nist_info(std::uint8_t arc, std::uint8_t size) {
    // Outer length: AlgorithmIdentifier (15) + OCTET STRING header (2) + digest.
    const auto outer = static_cast<std::uint8_t>(17 + size);
    return {0x30, outer, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
            0x65, 0x03,  0x04, 0x02, arc,  0x05, 0x00, 0x04, size};
}

constexpr auto kInfoSha224 = nist_info(0x04, 28);
constexpr auto kInfoSha256 = nist_info(0x01, 32);
constexpr auto kInfoSha384 = nist_info(0x02, 48);
constexpr auto kInfoSha512 = nist_info(0x03, 64);
constexpr auto kInfoSha512_224 = nist_info(0x05, 28);
constexpr auto kInfoSha512_256 = nist_info(0x06, 32);
constexpr auto kInfoSha3_224 = nist_info(0x07, 28);
constexpr auto kInfoSha3_256 = nist_info(0x08, 32);
constexpr auto kInfoSha3_384 = nist_info(0x09, 48);
constexpr auto kInfoSha3_512 = nist_info(0x0a, 64);

// Signature algorithm OIDs (contents octets): PKCS#1 (RFC 8017 appendix C), NIST CSOR
// (2.16.840.1.101.3.4.3: SHA-3 signatures), ANSI X9.62 (RFC 5758).
constexpr std::uint8_t kPkcs1Arc[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01};
constexpr std::uint8_t kNistSigArc[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03};
constexpr std::uint8_t kEcdsaArc[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04};

template <std::size_t N>
constexpr std::array<std::uint8_t, N + 1> arc(const std::uint8_t (&base)[N], std::uint8_t last) {
    std::array<std::uint8_t, N + 1> out{};
    for (std::size_t i = 0; i < N; ++i) {
        out[i] = base[i];
    }
    out[N] = last;
    return out;
}
template <std::size_t N>
constexpr std::array<std::uint8_t, N + 2> arc(const std::uint8_t (&base)[N], std::uint8_t a,
                                              std::uint8_t b) {
    std::array<std::uint8_t, N + 2> out{};
    for (std::size_t i = 0; i < N; ++i) {
        out[i] = base[i];
    }
    out[N] = a;
    out[N + 1] = b;
    return out;
}

constexpr auto kRsaSha1 = arc(kPkcs1Arc, 5);
constexpr auto kRsaSha224 = arc(kPkcs1Arc, 14);
constexpr auto kRsaSha256 = arc(kPkcs1Arc, 11);
constexpr auto kRsaSha384 = arc(kPkcs1Arc, 12);
constexpr auto kRsaSha512 = arc(kPkcs1Arc, 13);
constexpr auto kRsaSha512_224 = arc(kPkcs1Arc, 15);
constexpr auto kRsaSha512_256 = arc(kPkcs1Arc, 16);
constexpr auto kRsaSha3_224 = arc(kNistSigArc, 13);
constexpr auto kRsaSha3_256 = arc(kNistSigArc, 14);
constexpr auto kRsaSha3_384 = arc(kNistSigArc, 15);
constexpr auto kRsaSha3_512 = arc(kNistSigArc, 16);
constexpr auto kEcdsaSha1 = arc(kEcdsaArc, 1);
constexpr auto kEcdsaSha224 = arc(kEcdsaArc, 3, 1);
constexpr auto kEcdsaSha256 = arc(kEcdsaArc, 3, 2);
constexpr auto kEcdsaSha384 = arc(kEcdsaArc, 3, 3);
constexpr auto kEcdsaSha512 = arc(kEcdsaArc, 3, 4);
constexpr auto kEcdsaSha3_224 = arc(kNistSigArc, 9);
constexpr auto kEcdsaSha3_256 = arc(kNistSigArc, 10);
constexpr auto kEcdsaSha3_384 = arc(kNistSigArc, 11);
constexpr auto kEcdsaSha3_512 = arc(kNistSigArc, 12);
constexpr std::uint8_t kRsassaPss[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a};
constexpr std::uint8_t kMgf1[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08};
constexpr std::uint8_t kEd25519[] = {0x2b, 0x65, 0x70};
constexpr std::uint8_t kEd448[] = {0x2b, 0x65, 0x71};

const DigestSpec kDigests[] = {
    {NID_sha1, "SHA1", 20, kInfoSha1, CKM_SHA_1, CKG_MGF1_SHA1, CKM_SHA1_RSA_PKCS,
     CKM_SHA1_RSA_PKCS_PSS, CKM_ECDSA_SHA1, kRsaSha1, kEcdsaSha1},
    {NID_sha224, "SHA2-224", 28, kInfoSha224, CKM_SHA224, CKG_MGF1_SHA224, CKM_SHA224_RSA_PKCS,
     CKM_SHA224_RSA_PKCS_PSS, CKM_ECDSA_SHA224, kRsaSha224, kEcdsaSha224},
    {NID_sha256, "SHA2-256", 32, kInfoSha256, CKM_SHA256, CKG_MGF1_SHA256, CKM_SHA256_RSA_PKCS,
     CKM_SHA256_RSA_PKCS_PSS, CKM_ECDSA_SHA256, kRsaSha256, kEcdsaSha256},
    {NID_sha384, "SHA2-384", 48, kInfoSha384, CKM_SHA384, CKG_MGF1_SHA384, CKM_SHA384_RSA_PKCS,
     CKM_SHA384_RSA_PKCS_PSS, CKM_ECDSA_SHA384, kRsaSha384, kEcdsaSha384},
    {NID_sha512, "SHA2-512", 64, kInfoSha512, CKM_SHA512, CKG_MGF1_SHA512, CKM_SHA512_RSA_PKCS,
     CKM_SHA512_RSA_PKCS_PSS, CKM_ECDSA_SHA512, kRsaSha512, kEcdsaSha512},
    // PKCS#11 2.40 names none of these in PSS parameters or combined mechanisms: raw
    // mechanisms only (PSS through the encode-here path). No ECDSA OID exists for the
    // truncated SHA-512 variants.
    {NID_sha512_224, "SHA2-512/224", 28, kInfoSha512_224, 0, 0, 0, 0, 0, kRsaSha512_224, {}},
    {NID_sha512_256, "SHA2-512/256", 32, kInfoSha512_256, 0, 0, 0, 0, 0, kRsaSha512_256, {}},
    {NID_sha3_224, "SHA3-224", 28, kInfoSha3_224, 0, 0, 0, 0, 0, kRsaSha3_224, kEcdsaSha3_224},
    {NID_sha3_256, "SHA3-256", 32, kInfoSha3_256, 0, 0, 0, 0, 0, kRsaSha3_256, kEcdsaSha3_256},
    {NID_sha3_384, "SHA3-384", 48, kInfoSha3_384, 0, 0, 0, 0, 0, kRsaSha3_384, kEcdsaSha3_384},
    {NID_sha3_512, "SHA3-512", 64, kInfoSha3_512, 0, 0, 0, 0, 0, kRsaSha3_512, kEcdsaSha3_512},
};

// A tiny DER writer for the identifiers below: every length here is under 128 bytes.
class Der {
public:
    Der& raw(std::span<const std::uint8_t> b) {
        m_out.insert(m_out.end(), b.begin(), b.end());
        return *this;
    }
    Der& tlv(std::uint8_t tag, std::span<const std::uint8_t> content) {
        m_out.push_back(tag);
        m_out.push_back(static_cast<std::uint8_t>(content.size()));
        return raw(content);
    }
    Der& oid(std::span<const std::uint8_t> contents) { return tlv(0x06, contents); }
    Der& null() { return raw(std::array<std::uint8_t, 2>{0x05, 0x00}); }
    Der& integer(std::size_t v) {
        std::uint8_t be[sizeof(std::size_t) + 1] = {};
        std::size_t n = 0;
        do {
            be[sizeof be - 1 - n++] = static_cast<std::uint8_t>(v & 0xffU);
            v >>= 8U;
        } while (v != 0);
        if ((be[sizeof be - n] & 0x80U) != 0) {
            ++n; // keep it positive
        }
        return tlv(0x02, std::span<const std::uint8_t>(be + sizeof be - n, n));
    }
    [[nodiscard]] const Bytes& bytes() const { return m_out; }

private:
    Bytes m_out;
};

Bytes sequence(const Der& d) {
    return Der().tlv(0x30, d.bytes()).bytes();
}

Bytes algorithm_identifier(std::span<const std::uint8_t> oid, bool null_params) {
    Der d;
    d.oid(oid);
    if (null_params) {
        d.null();
    }
    return sequence(d);
}

// The hash AlgorithmIdentifier (with NULL parameters) is the start of the DigestInfo prefix.
std::span<const std::uint8_t> hash_identifier(const DigestSpec& d) {
    return d.info.subspan(2, 2 + static_cast<std::size_t>(d.info[3]));
}

// Minimal DER INTEGER of a non-negative big-endian value: leading zeros dropped, one zero
// added back when the top bit is set (or the value is zero).
struct DerUnsigned {
    std::span<const std::uint8_t> digits;
    bool pad;
    [[nodiscard]] std::size_t content() const { return digits.size() + (pad ? 1 : 0); }
    [[nodiscard]] std::size_t encoded() const { return 2 + content(); }
};

DerUnsigned der_unsigned(std::span<const std::uint8_t> v) {
    std::size_t skip = 0;
    while (skip < v.size() && v[skip] == 0) {
        ++skip;
    }
    const auto digits = v.subspan(skip);
    return {digits, digits.empty() || (digits[0] & 0x80U) != 0};
}

std::uint8_t* write_integer(const DerUnsigned& i, std::uint8_t* out) {
    *out++ = 0x02;
    *out++ = static_cast<std::uint8_t>(i.content()); // < 0x80: halves are at most 124 bytes
    if (i.pad) {
        *out++ = 0x00;
    }
    if (!i.digits.empty()) {
        std::memcpy(out, i.digits.data(), i.digits.size());
    }
    return out + i.digits.size();
}

} // namespace

const DigestSpec* digest_spec(const EVP_MD* md) noexcept {
    if (md == nullptr) {
        return nullptr;
    }
    const int nid = EVP_MD_get_type(md);
    for (const auto& d : kDigests) {
        if (d.nid == nid) {
            return &d;
        }
    }
    return nullptr;
}

std::span<const DigestSpec> digest_specs() noexcept {
    return kDigests;
}

std::size_t digest_info(const DigestSpec& d, std::span<const std::uint8_t> digest,
                        std::span<std::uint8_t> out) noexcept {
    const std::size_t total = d.info.size() + d.size;
    if (digest.size() != d.size || out.size() < total) {
        return 0;
    }
    std::memcpy(out.data(), d.info.data(), d.info.size());
    std::memcpy(out.data() + d.info.size(), digest.data(), digest.size());
    return total;
}

std::size_t ecdsa_rs_to_der(std::span<const std::uint8_t> rs,
                            std::span<std::uint8_t> out) noexcept {
    // Halves up to 124 bytes keep every length in one byte (P-521 needs 66).
    if (rs.empty() || rs.size() % 2 != 0 || rs.size() > 2 * 124) {
        return 0;
    }
    const std::size_t half = rs.size() / 2;
    const DerUnsigned r = der_unsigned(rs.first(half));
    const DerUnsigned s = der_unsigned(rs.subspan(half));
    const std::size_t content = r.encoded() + s.encoded();
    const std::size_t header = content < 0x80 ? 2 : 3;
    if (out.size() < header + content) {
        return 0;
    }
    std::uint8_t* p = out.data();
    *p++ = 0x30;
    if (content >= 0x80) {
        *p++ = 0x81;
    }
    *p++ = static_cast<std::uint8_t>(content);
    p = write_integer(r, p);
    write_integer(s, p);
    return header + content;
}

Result<int> parse_pss_saltlen(std::string_view text) {
    if (text == OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST) {
        return RSA_PSS_SALTLEN_DIGEST;
    }
    if (text == OSSL_PKEY_RSA_PSS_SALT_LEN_MAX) {
        return RSA_PSS_SALTLEN_MAX;
    }
    if (text == OSSL_PKEY_RSA_PSS_SALT_LEN_AUTO) {
        return RSA_PSS_SALTLEN_AUTO;
    }
    int value = -1;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc{} || ptr != end || value < 0) {
        return Error(Code::InvalidArgument, "bad RSA-PSS salt length \"" + std::string(text) +
                                                "\" (digest, max, auto or a non-negative number)");
    }
    return value;
}

Result<std::size_t> pss_salt_length(int mode, std::size_t md_size, int key_bits) {
    // emLen = ceil((modBits - 1) / 8); a salt must leave room for H, 0x01 and 0xbc.
    const std::size_t em_len = key_bits > 1 ? (static_cast<std::size_t>(key_bits) - 1 + 7) / 8 : 0;
    const std::size_t room = em_len >= md_size + 2 ? em_len - md_size - 2 : 0;
    std::size_t salt = 0;
    switch (mode) {
    case RSA_PSS_SALTLEN_DIGEST:
        salt = md_size;
        break;
    case RSA_PSS_SALTLEN_MAX:
    case RSA_PSS_SALTLEN_AUTO:
        if (em_len < md_size + 2) {
            return Error(Code::InvalidArgument, "the RSA key is too small for RSA-PSS with a " +
                                                    std::to_string(md_size) + "-byte digest");
        }
        return room;
    default:
        if (mode < 0) {
            return Error(Code::InvalidArgument,
                         "RSA-PSS salt length mode " + std::to_string(mode) + " is unknown");
        }
        salt = static_cast<std::size_t>(mode);
        break;
    }
    if (em_len < md_size + 2 || salt > room) {
        return Error(Code::InvalidArgument,
                     "RSA-PSS salt of " + std::to_string(salt) + " bytes does not fit a " +
                         std::to_string(key_bits) + "-bit key with a " + std::to_string(md_size) +
                         "-byte digest (at most " + std::to_string(room) + ")");
    }
    return salt;
}

Result<Bytes> emsa_pss_encode(const EVP_MD* md, const EVP_MD* mgf1,
                              std::span<const std::uint8_t> m_hash,
                              std::span<const std::uint8_t> salt, int mod_bits) {
    const auto h_len = static_cast<std::size_t>(EVP_MD_get_size(md));
    const std::size_t em_bits = static_cast<std::size_t>(mod_bits) - 1;
    const std::size_t em_len = (em_bits + 7) / 8;
    const std::size_t k = (static_cast<std::size_t>(mod_bits) + 7) / 8;
    if (m_hash.size() != h_len || em_len < h_len + salt.size() + 2) {
        return Error(Code::InvalidArgument, "RSA-PSS salt too long for the key");
    }
    // H = Hash(0x00 * 8 || mHash || salt)
    Bytes h(h_len);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    static constexpr std::uint8_t kZeros[8] = {};
    unsigned int out_len = 0;
    bool good = ctx != nullptr && EVP_DigestInit_ex2(ctx, md, nullptr) == 1 &&
                EVP_DigestUpdate(ctx, kZeros, sizeof kZeros) == 1 &&
                EVP_DigestUpdate(ctx, m_hash.data(), m_hash.size()) == 1 &&
                EVP_DigestUpdate(ctx, salt.data(), salt.size()) == 1 &&
                EVP_DigestFinal_ex(ctx, h.data(), &out_len) == 1;
    // DB = PS || 0x01 || salt, masked with MGF1(H) (RFC 8017 appendix B.2.1).
    const std::size_t db_len = em_len - h_len - 1;
    Bytes db(db_len, 0);
    db[db_len - salt.size() - 1] = 0x01;
    if (!salt.empty()) {
        std::memcpy(db.data() + db_len - salt.size(), salt.data(), salt.size());
    }
    std::size_t done = 0;
    for (std::uint32_t counter = 0; good && done < db_len; ++counter) {
        const std::uint8_t c[4] = {
            static_cast<std::uint8_t>(counter >> 24U), static_cast<std::uint8_t>(counter >> 16U),
            static_cast<std::uint8_t>(counter >> 8U), static_cast<std::uint8_t>(counter)};
        std::uint8_t block[EVP_MAX_MD_SIZE];
        unsigned int block_len = 0;
        good = EVP_DigestInit_ex2(ctx, mgf1, nullptr) == 1 &&
               EVP_DigestUpdate(ctx, h.data(), h.size()) == 1 &&
               EVP_DigestUpdate(ctx, c, sizeof c) == 1 &&
               EVP_DigestFinal_ex(ctx, block, &block_len) == 1;
        for (std::size_t i = 0; good && i < block_len && done < db_len; ++i, ++done) {
            db[done] ^= block[i];
        }
    }
    EVP_MD_CTX_free(ctx);
    if (!good) {
        return Error(Code::Internal, "hashing the RSA-PSS block");
    }
    db[0] = static_cast<std::uint8_t>(db[0] & (0xFFU >> (8 * em_len - em_bits)));
    Bytes em(k - em_len, 0); // a leading zero byte when the modulus bits are 8n+1
    em.reserve(k);
    em.insert(em.end(), db.begin(), db.end());
    em.insert(em.end(), h.begin(), h.end());
    em.push_back(0xbc);
    return em;
}

namespace {

Error no_identifier(std::string_view scheme, const EVP_MD* md) {
    return Error(Code::Unsupported, "no X.509 algorithm identifier for " + std::string(scheme) +
                                        " with " +
                                        (md != nullptr ? EVP_MD_get0_name(md) : "no digest"));
}

} // namespace

Result<Bytes> algorithm_id_rsa_pkcs1(const EVP_MD* md) {
    const DigestSpec* d = digest_spec(md);
    if (d == nullptr) {
        return no_identifier("RSA PKCS#1 v1.5", md);
    }
    return algorithm_identifier(d->rsa_oid, true);
}

Result<Bytes> algorithm_id_ecdsa(const EVP_MD* md) {
    const DigestSpec* d = digest_spec(md);
    if (d == nullptr || d->ecdsa_oid.empty()) {
        return no_identifier("ECDSA", md);
    }
    return algorithm_identifier(d->ecdsa_oid, false);
}

Result<Bytes> algorithm_id_eddsa(bool ed25519) {
    return algorithm_identifier(ed25519 ? std::span<const std::uint8_t>(kEd25519) : kEd448, false);
}

Result<Bytes> algorithm_id_rsa_pss(const EVP_MD* md, const EVP_MD* mgf1, std::size_t salt_len) {
    const DigestSpec* h = digest_spec(md);
    const DigestSpec* g = digest_spec(mgf1);
    if (h == nullptr || g == nullptr) {
        return no_identifier("RSASSA-PSS", md);
    }
    // RSASSA-PSS-params (RFC 4055 section 3.1): DER leaves out every field that has its
    // default (SHA-1, MGF1 with SHA-1, salt 20, trailer 1).
    Der params;
    if (h->nid != NID_sha1) {
        params.tlv(0xa0, hash_identifier(*h));
    }
    if (g->nid != NID_sha1) {
        Der mgf;
        mgf.oid(kMgf1).raw(hash_identifier(*g));
        params.tlv(0xa1, sequence(mgf));
    }
    if (salt_len != 20) {
        params.tlv(0xa2, Der().integer(salt_len).bytes());
    }
    Der alg;
    alg.oid(kRsassaPss).raw(sequence(params));
    return sequence(alg);
}

std::string_view mechanism_name(CK_MECHANISM_TYPE mechanism) noexcept {
    switch (mechanism) {
    case CKM_RSA_PKCS:
        return "CKM_RSA_PKCS";
    case CKM_RSA_PKCS_PSS:
        return "CKM_RSA_PKCS_PSS";
    case CKM_RSA_X_509:
        return "CKM_RSA_X_509";
    case CKM_ECDSA:
        return "CKM_ECDSA";
    case CKM_EDDSA:
        return "CKM_EDDSA";
    case CKM_SHA1_RSA_PKCS:
        return "CKM_SHA1_RSA_PKCS";
    case CKM_SHA224_RSA_PKCS:
        return "CKM_SHA224_RSA_PKCS";
    case CKM_SHA256_RSA_PKCS:
        return "CKM_SHA256_RSA_PKCS";
    case CKM_SHA384_RSA_PKCS:
        return "CKM_SHA384_RSA_PKCS";
    case CKM_SHA512_RSA_PKCS:
        return "CKM_SHA512_RSA_PKCS";
    case CKM_SHA1_RSA_PKCS_PSS:
        return "CKM_SHA1_RSA_PKCS_PSS";
    case CKM_SHA224_RSA_PKCS_PSS:
        return "CKM_SHA224_RSA_PKCS_PSS";
    case CKM_SHA256_RSA_PKCS_PSS:
        return "CKM_SHA256_RSA_PKCS_PSS";
    case CKM_SHA384_RSA_PKCS_PSS:
        return "CKM_SHA384_RSA_PKCS_PSS";
    case CKM_SHA512_RSA_PKCS_PSS:
        return "CKM_SHA512_RSA_PKCS_PSS";
    case CKM_ECDSA_SHA1:
        return "CKM_ECDSA_SHA1";
    case CKM_ECDSA_SHA224:
        return "CKM_ECDSA_SHA224";
    case CKM_ECDSA_SHA256:
        return "CKM_ECDSA_SHA256";
    case CKM_ECDSA_SHA384:
        return "CKM_ECDSA_SHA384";
    case CKM_ECDSA_SHA512:
        return "CKM_ECDSA_SHA512";
    default:
        return "an unnamed mechanism";
    }
}

} // namespace hsmp::ops::sig
