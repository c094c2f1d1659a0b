// ops/offer.hpp: from the mechanisms some token offers for signing to the key and signature
// families the provider offers OpenSSL. Pure: no token, no provider.
#include "ops/offer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <vector>

namespace hsmp::ops {
namespace {

using ::testing::HasSubstr;

struct Case {
    const char* name;
    std::vector<CK_MECHANISM_TYPE> signing;
    bool rsa, rsa_pss, ec, eddsa;
};

// gtest shows the case by name, not as bytes.
void PrintTo(const Case& c, std::ostream* os) {
    *os << c.name;
}

class FromMechanisms : public ::testing::TestWithParam<Case> {};

TEST_P(FromMechanisms, OffersExactlyTheFamiliesTheTokenCanSignFor) {
    const Case& c = GetParam();
    const auto offer = AlgorithmOffer::from_mechanisms(c.signing, "the test token");
    EXPECT_TRUE(offer.from_tokens());
    EXPECT_EQ(offer.offers(Family::Rsa), c.rsa);
    EXPECT_EQ(offer.offers(Family::RsaPss), c.rsa_pss);
    EXPECT_EQ(offer.offers(Family::Ec), c.ec);
    EXPECT_EQ(offer.offers(Family::EdDsa), c.eddsa);
}

INSTANTIATE_TEST_SUITE_P(
    Mechanisms, FromMechanisms,
    ::testing::Values(
        Case{"none", {}, false, false, false, false},
        Case{"unrelated", {CKM_AES_GCM, CKM_SHA256, CKM_ECDH1_DERIVE}, false, false, false, false},
        Case{"rsa_pkcs", {CKM_RSA_PKCS}, true, false, false, false},
        // The provider hashes when the token only has combined mechanisms.
        Case{"sha256_rsa_pkcs_only", {CKM_SHA256_RSA_PKCS}, true, false, false, false},
        Case{"pss", {CKM_RSA_PKCS_PSS}, true, true, false, false},
        Case{"sha384_pss_only", {CKM_SHA384_RSA_PKCS_PSS}, true, true, false, false},
        // Raw RSA: PSS blocks are built by the provider; PKCS#1 v1.5 over raw RSA is refused
        // by the signature code, but the "RSA" algorithm still serves pad-mode pss.
        Case{"rsa_x_509", {CKM_RSA_X_509}, true, true, false, false},
        Case{"ecdsa", {CKM_ECDSA}, false, false, true, false},
        Case{"ecdsa_sha512_only", {CKM_ECDSA_SHA512}, false, false, true, false},
        Case{"eddsa", {CKM_EDDSA}, false, false, false, true},
        Case{"softhsm_like",
             {CKM_RSA_PKCS, CKM_RSA_X_509, CKM_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS, CKM_ECDSA,
              CKM_EDDSA},
             true,
             true,
             true,
             true},
        // NSS softokn 3.87: no CKM_EDDSA.
        Case{"nss_like",
             {CKM_RSA_PKCS, CKM_RSA_PKCS_PSS, CKM_ECDSA, CKM_SHA256_RSA_PKCS},
             true,
             true,
             true,
             false}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

TEST(AlgorithmOffer, EverythingWhenTheModuleCouldNotBeAsked) {
    const auto offer =
        AlgorithmOffer::everything("module \"x.so\" has 1 of 2 slots without a token");
    EXPECT_FALSE(offer.from_tokens());
    EXPECT_EQ(offer.families(), FamilySet::all());
    EXPECT_THAT(offer.basis(), HasSubstr("without a token"));
}

TEST(AlgorithmOffer, CandidatesCoverEveryFamilyMechanism) {
    const auto all = AlgorithmOffer::candidates();
    EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
    for (const Family f : {Family::Rsa, Family::RsaPss, Family::Ec, Family::EdDsa}) {
        const auto mechanisms = family_mechanisms(f);
        EXPECT_FALSE(mechanisms.empty()) << family_name(f);
        for (const CK_MECHANISM_TYPE m : mechanisms) {
            EXPECT_TRUE(std::binary_search(all.begin(), all.end(), m)) << m;
        }
    }
    // Combined mechanisms come from the signature code's digest table.
    const auto ec = family_mechanisms(Family::Ec);
    EXPECT_TRUE(std::binary_search(ec.begin(), ec.end(), CKM_ECDSA_SHA256));
    EXPECT_FALSE(std::binary_search(ec.begin(), ec.end(), CKM_RSA_PKCS));
}

TEST(AlgorithmOffer, TheReasonNamesTheFamilyItsMechanismsAndTheTokensAsked) {
    const auto offer = AlgorithmOffer::from_mechanisms(
        std::vector<CK_MECHANISM_TYPE>{CKM_RSA_PKCS}, "the 1 token(s) of module \"/usr/lib/x.so\"");
    const std::string why = offer.not_offered_reason(Family::Ec);
    EXPECT_THAT(why, HasSubstr("does not offer EC keys or signatures"));
    EXPECT_THAT(why, HasSubstr("CKM_ECDSA"));
    EXPECT_THAT(why, HasSubstr("CKM_ECDSA_SHA256"));
    EXPECT_THAT(why, HasSubstr("/usr/lib/x.so"));
    EXPECT_THAT(why, HasSubstr("CKF_SIGN"));
}

TEST(FamilySet, IndexesEveryCombination) {
    FamilySet s;
    EXPECT_EQ(s.index(), 0U);
    s.add(Family::Ec);
    EXPECT_TRUE(s.has(Family::Ec));
    EXPECT_FALSE(s.has(Family::Rsa));
    EXPECT_EQ(FamilySet::from_index(s.index()), s);
    EXPECT_EQ(FamilySet::all().index() + 1, FamilySet::kCombinations);
}

} // namespace
} // namespace hsmp::ops
