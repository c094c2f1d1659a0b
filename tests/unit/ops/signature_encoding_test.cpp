// The signature encodings (ops/signature_encoding.hpp) against what OpenSSL's default
// provider produces or accepts for the same inputs: DigestInfo, the X.509
// AlgorithmIdentifier of every digest/padding combination, ECDSA r || s to DER, RSA-PSS salt
// lengths and the EMSA-PSS block built for raw RSA.
#include "ops/signature_encoding.hpp"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

namespace hsmp::ops::sig {
namespace {

struct Free {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
    void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
    void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
    void operator()(EVP_MD* p) const { EVP_MD_free(p); }
    void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
    void operator()(X509_SIG* p) const { X509_SIG_free(p); }
};
template <class T> using Ptr = std::unique_ptr<T, Free>;

Ptr<EVP_MD> md(const char* name) {
    return Ptr<EVP_MD>(EVP_MD_fetch(nullptr, name, nullptr));
}

Bytes random_bytes(std::size_t n) {
    Bytes b(n);
    EXPECT_EQ(RAND_bytes(b.data(), static_cast<int>(n)), 1);
    return b;
}

std::string hex(const Bytes& b) {
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (auto c : b) {
        s += digits[c >> 4U];
        s += digits[c & 0xfU];
    }
    return s;
}

// Keys made once: RSA keygen is slow enough to matter across many cases.
class Keys : public ::testing::Environment {
public:
    static EVP_PKEY* rsa2048() { return s_rsa2048.get(); }
    static EVP_PKEY* rsa1031() { return s_rsa1031.get(); }
    static EVP_PKEY* p256() { return s_p256.get(); }
    static EVP_PKEY* ed25519() { return s_ed25519.get(); }
    static EVP_PKEY* ed448() { return s_ed448.get(); }

    void SetUp() override {
        s_rsa2048.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)));
        s_rsa1031.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(1031)));
        s_p256.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
        s_ed25519.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
        s_ed448.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED448"));
        ASSERT_TRUE(s_rsa2048 && s_rsa1031 && s_p256 && s_ed25519 && s_ed448);
    }
    void TearDown() override {
        s_rsa2048.reset();
        s_rsa1031.reset();
        s_p256.reset();
        s_ed25519.reset();
        s_ed448.reset();
    }

private:
    static inline Ptr<EVP_PKEY> s_rsa2048, s_rsa1031, s_p256, s_ed25519, s_ed448;
};

[[maybe_unused]] const auto* const kKeys = ::testing::AddGlobalTestEnvironment(new Keys);

// --- digests and DigestInfo ----------------------------------------------------------------

TEST(DigestSpec, MatchesOpenSslDigests) {
    for (const auto& d : digest_specs()) {
        auto m = md(d.name);
        ASSERT_TRUE(m) << d.name;
        EXPECT_EQ(digest_spec(m.get()), &d) << d.name;
        EXPECT_EQ(static_cast<std::size_t>(EVP_MD_get_size(m.get())), d.size) << d.name;
        EXPECT_EQ(EVP_MD_get_type(m.get()), d.nid) << d.name;
    }
    // Aliases reach the same spec.
    EXPECT_EQ(digest_spec(md("SHA256").get()), digest_spec(md("SHA2-256").get()));
}

TEST(DigestSpec, RefusesDigestsWithoutSignatureUse) {
    for (const char* name : {"MD5", "MD5-SHA1", "SHAKE256", "SM3", "RIPEMD160"}) {
        auto m = md(name);
        if (m) {
            EXPECT_EQ(digest_spec(m.get()), nullptr) << name;
        }
    }
    ERR_clear_error();
    EXPECT_EQ(digest_spec(nullptr), nullptr);
}

TEST(DigestSpec, PkcsNamesForTheSha2Family) {
    const auto* sha256 = digest_spec(md("SHA256").get());
    ASSERT_NE(sha256, nullptr);
    EXPECT_EQ(sha256->hash, CKM_SHA256);
    EXPECT_EQ(sha256->mgf, CKG_MGF1_SHA256);
    EXPECT_EQ(sha256->rsa_pkcs, CKM_SHA256_RSA_PKCS);
    EXPECT_EQ(sha256->rsa_pss, CKM_SHA256_RSA_PKCS_PSS);
    EXPECT_EQ(sha256->ecdsa, CKM_ECDSA_SHA256);
    const auto* sha3 = digest_spec(md("SHA3-256").get());
    ASSERT_NE(sha3, nullptr);
    EXPECT_EQ(sha3->hash, 0U); // PKCS#11 2.40 cannot name it in PSS parameters
    EXPECT_EQ(sha3->rsa_pkcs, 0U);
}

// The DigestInfo OpenSSL's ASN.1 code writes for the same digest.
Bytes openssl_digest_info(const EVP_MD* m, const Bytes& digest) {
    Ptr<X509_SIG> sig(X509_SIG_new());
    X509_ALGOR* alg = nullptr;
    ASN1_OCTET_STRING* octets = nullptr;
    X509_SIG_getm(sig.get(), &alg, &octets);
    X509_ALGOR_set0(alg, OBJ_nid2obj(EVP_MD_get_type(m)), V_ASN1_NULL, nullptr);
    ASN1_OCTET_STRING_set(octets, digest.data(), static_cast<int>(digest.size()));
    unsigned char* der = nullptr;
    const int n = i2d_X509_SIG(sig.get(), &der);
    Bytes out(der, der + (n > 0 ? n : 0));
    OPENSSL_free(der);
    return out;
}

TEST(DigestInfo, EqualsOpenSslEncodingForEveryDigest) {
    for (const auto& d : digest_specs()) {
        auto m = md(d.name);
        const Bytes digest = random_bytes(d.size);
        std::array<std::uint8_t, kMaxDigestInfo> buf{};
        const std::size_t n = digest_info(d, digest, buf);
        ASSERT_NE(n, 0U) << d.name;
        EXPECT_EQ(hex(Bytes(buf.begin(), buf.begin() + static_cast<long>(n))),
                  hex(openssl_digest_info(m.get(), digest)))
            << d.name;
    }
}

TEST(DigestInfo, VerifiesAsPkcs1SignatureWithTheDefaultProvider) {
    // Raw RSA over our DigestInfo (PKCS#1 type 1 padding) must verify as sha256WithRSA.
    const auto* d = digest_spec(md("SHA256").get());
    const Bytes digest = random_bytes(32);
    std::array<std::uint8_t, kMaxDigestInfo> info{};
    const std::size_t n = digest_info(*d, digest, info);
    Ptr<EVP_PKEY_CTX> sctx(EVP_PKEY_CTX_new_from_pkey(nullptr, Keys::rsa2048(), nullptr));
    ASSERT_EQ(EVP_PKEY_sign_init(sctx.get()), 1);
    ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(sctx.get(), RSA_PKCS1_PADDING), 1);
    Bytes sig(256);
    size_t siglen = sig.size();
    ASSERT_EQ(EVP_PKEY_sign(sctx.get(), sig.data(), &siglen, info.data(), n), 1);
    Ptr<EVP_PKEY_CTX> vctx(EVP_PKEY_CTX_new_from_pkey(nullptr, Keys::rsa2048(), nullptr));
    ASSERT_EQ(EVP_PKEY_verify_init(vctx.get()), 1);
    ASSERT_EQ(EVP_PKEY_CTX_set_signature_md(vctx.get(), EVP_sha256()), 1);
    EXPECT_EQ(EVP_PKEY_verify(vctx.get(), sig.data(), siglen, digest.data(), digest.size()), 1);
}

TEST(DigestInfo, RefusesWrongSizesAndSmallBuffers) {
    const auto& sha256 = *digest_spec(md("SHA256").get());
    std::array<std::uint8_t, kMaxDigestInfo> buf{};
    EXPECT_EQ(digest_info(sha256, random_bytes(31), buf), 0U);
    EXPECT_EQ(digest_info(sha256, random_bytes(33), buf), 0U);
    std::array<std::uint8_t, 19 + 31> small{};
    EXPECT_EQ(digest_info(sha256, random_bytes(32), small), 0U);
    std::array<std::uint8_t, 19 + 32> exact{};
    EXPECT_EQ(digest_info(sha256, random_bytes(32), exact), exact.size());
}

// --- AlgorithmIdentifier -------------------------------------------------------------------

struct SignSetup {
    const char* digest;
    int pad = 0; // RSA only
    const char* saltlen = nullptr;
    const char* mgf1 = nullptr;
};

// OSSL_SIGNATURE_PARAM_ALGORITHM_ID from the default provider after EVP_DigestSignInit.
Bytes default_provider_algorithm_id(EVP_PKEY* key, const SignSetup& s) {
    Ptr<EVP_MD_CTX> mctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    if (EVP_DigestSignInit_ex(mctx.get(), &pctx, s.digest, nullptr, nullptr, key, nullptr) != 1) {
        return {};
    }
    if (s.pad != 0) {
        EXPECT_EQ(EVP_PKEY_CTX_set_rsa_padding(pctx, s.pad), 1);
    }
    if (s.saltlen != nullptr) {
        EXPECT_GT(EVP_PKEY_CTX_ctrl_str(pctx, "rsa_pss_saltlen", s.saltlen), 0);
    }
    if (s.mgf1 != nullptr) {
        EXPECT_GT(EVP_PKEY_CTX_ctrl_str(pctx, "rsa_mgf1_md", s.mgf1), 0);
    }
    std::array<unsigned char, 256> buf{};
    OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID,
                                                             buf.data(), buf.size()),
                           OSSL_PARAM_construct_end()};
    if (EVP_PKEY_CTX_get_params(pctx, params) != 1 || params[0].return_size == 0 ||
        params[0].return_size > buf.size()) {
        return {};
    }
    return {buf.begin(), buf.begin() + static_cast<long>(params[0].return_size)};
}

const char* const kSha2[] = {"SHA1", "SHA224", "SHA256", "SHA384", "SHA512"};

TEST(AlgorithmId, RsaPkcs1MatchesDefaultProvider) {
    for (const auto& d : digest_specs()) {
        const Bytes expected = default_provider_algorithm_id(Keys::rsa2048(), {d.name});
        auto ours = algorithm_id_rsa_pkcs1(md(d.name).get());
        if (expected.empty()) {
            // Not every digest has an identifier in OpenSSL 3.0's default provider; the
            // ones X.509 signing needs must.
            ERR_clear_error();
            continue;
        }
        ASSERT_TRUE(ours) << d.name << ": " << ours.error().message();
        EXPECT_EQ(hex(ours.value()), hex(expected)) << d.name;
    }
    for (const char* name : kSha2) {
        EXPECT_FALSE(default_provider_algorithm_id(Keys::rsa2048(), {name}).empty()) << name;
    }
}

TEST(AlgorithmId, EcdsaMatchesDefaultProvider) {
    for (const auto& d : digest_specs()) {
        const Bytes expected = default_provider_algorithm_id(Keys::p256(), {d.name});
        if (expected.empty()) {
            ERR_clear_error();
            continue;
        }
        auto ours = algorithm_id_ecdsa(md(d.name).get());
        ASSERT_TRUE(ours) << d.name << ": " << ours.error().message();
        EXPECT_EQ(hex(ours.value()), hex(expected)) << d.name;
    }
    for (const char* name : kSha2) {
        EXPECT_FALSE(default_provider_algorithm_id(Keys::p256(), {name}).empty()) << name;
    }
}

TEST(AlgorithmId, EddsaMatchesDefaultProvider) {
    EXPECT_EQ(hex(algorithm_id_eddsa(true).value()),
              hex(default_provider_algorithm_id(Keys::ed25519(), {nullptr})));
    EXPECT_EQ(hex(algorithm_id_eddsa(false).value()),
              hex(default_provider_algorithm_id(Keys::ed448(), {nullptr})));
}

TEST(AlgorithmId, RsaPssMatchesDefaultProviderForEveryCombination) {
    int compared = 0;
    for (const char* digest : kSha2) {
        for (const char* mgf1 : kSha2) {
            for (const char* salt : {"digest", "max", "20", "0", "32"}) {
                const SignSetup s{digest, RSA_PKCS1_PSS_PADDING, salt, mgf1};
                const Bytes expected = default_provider_algorithm_id(Keys::rsa2048(), s);
                ASSERT_FALSE(expected.empty()) << digest << "/" << mgf1 << "/" << salt;
                auto m = md(digest);
                auto mode = parse_pss_saltlen(salt);
                ASSERT_TRUE(mode);
                auto salt_len = pss_salt_length(mode.value(),
                                                static_cast<std::size_t>(EVP_MD_get_size(m.get())),
                                                EVP_PKEY_get_bits(Keys::rsa2048()));
                ASSERT_TRUE(salt_len);
                auto ours = algorithm_id_rsa_pss(m.get(), md(mgf1).get(), salt_len.value());
                ASSERT_TRUE(ours);
                EXPECT_EQ(hex(ours.value()), hex(expected)) << digest << "/" << mgf1 << "/" << salt;
                ++compared;
            }
        }
    }
    EXPECT_EQ(compared, 5 * 5 * 5);
}

TEST(AlgorithmId, NoDigestIsAnError) {
    EXPECT_FALSE(algorithm_id_rsa_pkcs1(nullptr));
    EXPECT_FALSE(algorithm_id_ecdsa(nullptr));
    EXPECT_FALSE(algorithm_id_rsa_pss(nullptr, nullptr, 32));
}

// --- ECDSA r || s to DER ---------------------------------------------------------------------

Bytes openssl_ecdsa_der(const Bytes& rs) {
    const auto half = static_cast<int>(rs.size() / 2);
    Ptr<ECDSA_SIG> s(ECDSA_SIG_new());
    ECDSA_SIG_set0(s.get(), BN_bin2bn(rs.data(), half, nullptr),
                   BN_bin2bn(rs.data() + half, half, nullptr));
    unsigned char* der = nullptr;
    const int n = i2d_ECDSA_SIG(s.get(), &der);
    Bytes out(der, der + (n > 0 ? n : 0));
    OPENSSL_free(der);
    return out;
}

Bytes convert(const Bytes& rs, std::size_t room = 256) {
    Bytes out(room);
    const std::size_t n = ecdsa_rs_to_der(rs, out);
    out.resize(n);
    return out;
}

TEST(EcdsaDer, MatchesOpenSslForRandomAndEdgeValues) {
    for (std::size_t half : {24U, 28U, 32U, 48U, 66U}) {
        for (int round = 0; round < 200; ++round) {
            Bytes rs = random_bytes(2 * half);
            switch (round % 6) {
            case 0: // top bits set: each integer gains a zero byte
                rs[0] |= 0x80U;
                rs[half] |= 0x80U;
                break;
            case 1: // leading zero bytes dropped
                rs[0] = rs[1] = 0;
                rs[half] = 0;
                break;
            case 2: // a zero byte followed by a high bit
                rs[0] = 0;
                rs[1] |= 0x80U;
                break;
            case 3: // all zero r
                std::fill(rs.begin(), rs.begin() + static_cast<long>(half), 0);
                break;
            default:
                break;
            }
            EXPECT_EQ(hex(convert(rs)), hex(openssl_ecdsa_der(rs))) << "half " << half;
        }
    }
}

TEST(EcdsaDer, LongFormSequenceForP521) {
    Bytes rs(132, 0xff);
    const Bytes der = convert(rs);
    ASSERT_FALSE(der.empty());
    EXPECT_EQ(der[0], 0x30);
    EXPECT_EQ(der[1], 0x81); // 2 * (2 + 1 + 66) = 138 content bytes
    EXPECT_EQ(der[2], 138);
    EXPECT_EQ(hex(der), hex(openssl_ecdsa_der(rs)));
}

TEST(EcdsaDer, FitsExactlyTheBufferOpenSslSizesForTheCurve) {
    // EVP_PKEY_get_size is what OpenSSL callers allocate; the largest encoding must fit it.
    Bytes rs(64, 0xff);
    const auto max = static_cast<std::size_t>(EVP_PKEY_get_size(Keys::p256()));
    EXPECT_EQ(convert(rs, max).size(), max);
    EXPECT_TRUE(convert(rs, max - 1).empty());
}

TEST(EcdsaDer, RefusesMalformedInput) {
    EXPECT_TRUE(convert({}).empty());
    EXPECT_TRUE(convert(Bytes(63, 1)).empty());
    EXPECT_TRUE(convert(Bytes(250, 1), 1024).empty());
}

TEST(EcdsaDer, VerifiesWithTheDefaultProvider) {
    // Sign with OpenSSL, turn its DER into r || s and back: the result must verify.
    const Bytes digest = random_bytes(32);
    Ptr<EVP_PKEY_CTX> sctx(EVP_PKEY_CTX_new_from_pkey(nullptr, Keys::p256(), nullptr));
    ASSERT_EQ(EVP_PKEY_sign_init(sctx.get()), 1);
    Bytes sig(80);
    size_t siglen = sig.size();
    ASSERT_EQ(EVP_PKEY_sign(sctx.get(), sig.data(), &siglen, digest.data(), digest.size()), 1);
    const unsigned char* p = sig.data();
    Ptr<ECDSA_SIG> parsed(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(siglen)));
    ASSERT_TRUE(parsed);
    Bytes rs(64);
    BN_bn2binpad(ECDSA_SIG_get0_r(parsed.get()), rs.data(), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(parsed.get()), rs.data() + 32, 32);
    const Bytes der = convert(rs);
    Ptr<EVP_PKEY_CTX> vctx(EVP_PKEY_CTX_new_from_pkey(nullptr, Keys::p256(), nullptr));
    ASSERT_EQ(EVP_PKEY_verify_init(vctx.get()), 1);
    EXPECT_EQ(EVP_PKEY_verify(vctx.get(), der.data(), der.size(), digest.data(), digest.size()), 1);
}

// --- RSA-PSS salt lengths ------------------------------------------------------------------

TEST(PssSaltLength, ParsesOpenSslNames) {
    EXPECT_EQ(parse_pss_saltlen("digest").value(), RSA_PSS_SALTLEN_DIGEST);
    EXPECT_EQ(parse_pss_saltlen("max").value(), RSA_PSS_SALTLEN_MAX);
    EXPECT_EQ(parse_pss_saltlen("auto").value(), RSA_PSS_SALTLEN_AUTO);
    EXPECT_EQ(parse_pss_saltlen("0").value(), 0);
    EXPECT_EQ(parse_pss_saltlen("222").value(), 222);
    for (const char* bad : {"", "-1", "12x", "x", " 1", "MAX", "99999999999"}) {
        auto r = parse_pss_saltlen(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code(), Code::InvalidArgument);
    }
}

TEST(PssSaltLength, ResolvesModesFromKeySize) {
    EXPECT_EQ(pss_salt_length(RSA_PSS_SALTLEN_DIGEST, 32, 2048).value(), 32U);
    EXPECT_EQ(pss_salt_length(RSA_PSS_SALTLEN_MAX, 32, 2048).value(), 222U);
    EXPECT_EQ(pss_salt_length(RSA_PSS_SALTLEN_AUTO, 32, 2048).value(), 222U);
    EXPECT_EQ(pss_salt_length(RSA_PSS_SALTLEN_MAX, 64, 1024).value(), 62U);
    // 8n+1 bits: emLen is one byte shorter than the modulus.
    EXPECT_EQ(pss_salt_length(RSA_PSS_SALTLEN_MAX, 32, 2049).value(), 222U);
    EXPECT_EQ(pss_salt_length(RSA_PSS_SALTLEN_MAX, 32, 2047).value(), 222U);
    EXPECT_EQ(pss_salt_length(222, 32, 2048).value(), 222U);
    EXPECT_EQ(pss_salt_length(0, 32, 2048).value(), 0U);
}

TEST(PssSaltLength, RefusesWhatDoesNotFit) {
    EXPECT_FALSE(pss_salt_length(223, 32, 2048));
    EXPECT_FALSE(pss_salt_length(RSA_PSS_SALTLEN_MAX, 64, 512)); // emLen 64 < 64 + 2
    EXPECT_FALSE(pss_salt_length(RSA_PSS_SALTLEN_DIGEST, 64, 512));
    EXPECT_FALSE(pss_salt_length(-7, 32, 2048));
}

// The default provider signs with "max" and our resolved length must verify as exact.
TEST(PssSaltLength, MaxAgreesWithDefaultProvider) {
    for (EVP_PKEY* key : {Keys::rsa2048(), Keys::rsa1031()}) {
        for (const char* digest : kSha2) {
            auto m = md(digest);
            const auto mdlen = static_cast<std::size_t>(EVP_MD_get_size(m.get()));
            auto expected = pss_salt_length(RSA_PSS_SALTLEN_MAX, mdlen, EVP_PKEY_get_bits(key));
            ASSERT_TRUE(expected);
            const Bytes msg = random_bytes(100);
            Ptr<EVP_MD_CTX> sctx(EVP_MD_CTX_new());
            EVP_PKEY_CTX* pctx = nullptr;
            ASSERT_EQ(
                EVP_DigestSignInit_ex(sctx.get(), &pctx, digest, nullptr, nullptr, key, nullptr),
                1);
            ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
            ASSERT_EQ(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_MAX), 1);
            Bytes sig(static_cast<std::size_t>(EVP_PKEY_get_size(key)));
            size_t siglen = sig.size();
            ASSERT_EQ(EVP_DigestSign(sctx.get(), sig.data(), &siglen, msg.data(), msg.size()), 1);
            Ptr<EVP_MD_CTX> vctx(EVP_MD_CTX_new());
            ASSERT_EQ(
                EVP_DigestVerifyInit_ex(vctx.get(), &pctx, digest, nullptr, nullptr, key, nullptr),
                1);
            ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
            ASSERT_EQ(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, static_cast<int>(expected.value())),
                      1);
            EXPECT_EQ(EVP_DigestVerify(vctx.get(), sig.data(), siglen, msg.data(), msg.size()), 1)
                << digest << " " << EVP_PKEY_get_bits(key) << " bits, salt " << expected.value();
        }
    }
}

// --- EMSA-PSS built here, signed with raw RSA ------------------------------------------------

Bytes raw_rsa_sign(EVP_PKEY* key, const Bytes& block) {
    Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
    EXPECT_EQ(EVP_PKEY_sign_init(ctx.get()), 1);
    EXPECT_EQ(EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_NO_PADDING), 1);
    Bytes sig(static_cast<std::size_t>(EVP_PKEY_get_size(key)));
    size_t siglen = sig.size();
    EXPECT_EQ(EVP_PKEY_sign(ctx.get(), sig.data(), &siglen, block.data(), block.size()), 1);
    sig.resize(siglen);
    return sig;
}

TEST(EmsaPss, RawRsaOverTheBlockVerifiesAsPss) {
    struct Case {
        const char* digest;
        const char* mgf1;
        std::size_t salt;
        EVP_PKEY* key;
    };
    const Case cases[] = {
        {"SHA256", "SHA1", 32, Keys::rsa2048()},    {"SHA384", "SHA512", 0, Keys::rsa2048()},
        {"SHA512", "SHA256", 190, Keys::rsa2048()}, {"SHA3-256", "SHA3-256", 32, Keys::rsa2048()},
        {"SHA256", "SHA384", 20, Keys::rsa1031()},  {"SHA1", "SHA1", 20, Keys::rsa1031()},
    };
    for (const auto& c : cases) {
        auto m = md(c.digest);
        auto g = md(c.mgf1);
        const Bytes digest = random_bytes(static_cast<std::size_t>(EVP_MD_get_size(m.get())));
        auto em = emsa_pss_encode(m.get(), g.get(), digest, random_bytes(c.salt),
                                  EVP_PKEY_get_bits(c.key));
        ASSERT_TRUE(em) << c.digest;
        EXPECT_EQ(em->size(), static_cast<std::size_t>(EVP_PKEY_get_size(c.key)));
        const Bytes sig = raw_rsa_sign(c.key, em.value());
        Ptr<EVP_PKEY_CTX> vctx(EVP_PKEY_CTX_new_from_pkey(nullptr, c.key, nullptr));
        ASSERT_EQ(EVP_PKEY_verify_init(vctx.get()), 1);
        ASSERT_EQ(EVP_PKEY_CTX_set_signature_md(vctx.get(), m.get()), 1);
        ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(vctx.get(), RSA_PKCS1_PSS_PADDING), 1);
        ASSERT_EQ(EVP_PKEY_CTX_set_rsa_mgf1_md(vctx.get(), g.get()), 1);
        ASSERT_EQ(EVP_PKEY_CTX_set_rsa_pss_saltlen(vctx.get(), static_cast<int>(c.salt)), 1);
        EXPECT_EQ(EVP_PKEY_verify(vctx.get(), sig.data(), sig.size(), digest.data(), digest.size()),
                  1)
            << c.digest << "/" << c.mgf1 << " salt " << c.salt << " " << EVP_PKEY_get_bits(c.key)
            << " bits";
    }
}

TEST(EmsaPss, RefusesSaltThatDoesNotFit) {
    auto m = md("SHA256");
    EXPECT_FALSE(emsa_pss_encode(m.get(), m.get(), random_bytes(32), random_bytes(223), 2048));
    EXPECT_FALSE(emsa_pss_encode(m.get(), m.get(), random_bytes(31), random_bytes(32), 2048));
}

TEST(MechanismName, NamesWhatTheSignaturesUse) {
    EXPECT_EQ(mechanism_name(CKM_RSA_PKCS), "CKM_RSA_PKCS");
    EXPECT_EQ(mechanism_name(CKM_SHA384_RSA_PKCS_PSS), "CKM_SHA384_RSA_PKCS_PSS");
    EXPECT_EQ(mechanism_name(CKM_ECDSA_SHA512), "CKM_ECDSA_SHA512");
    for (const auto& d : digest_specs()) {
        for (auto m : {d.rsa_pkcs, d.rsa_pss, d.ecdsa}) {
            if (m != 0) {
                EXPECT_NE(mechanism_name(m), "an unnamed mechanism") << d.name;
            }
        }
    }
}

} // namespace
} // namespace hsmp::ops::sig
