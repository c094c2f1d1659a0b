// The provider context's signature digests: fetched once from the software library context
// and found again by any of OpenSSL's names for them, with no method-store lookup per
// signature. No token: the context is made without a core and loads no module.
#include "ops/context.hpp"
#include "ops/signature_encoding.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

namespace {

class ContextDigests : public ::testing::Test {
protected:
    void SetUp() override {
        auto made = hsmp::ops::ProviderContext::create(hsmp::ProviderConfig{}, nullptr);
        ASSERT_TRUE(made.ok()) << made.error().message();
        ctx = std::move(made).value();
    }
    std::unique_ptr<hsmp::ops::ProviderContext> ctx;
};

TEST_F(ContextDigests, EverySignatureDigestIsFetchedOnce) {
    for (const auto& spec : hsmp::ops::sig::digest_specs()) {
        const EVP_MD* md = ctx->signature_digest(spec.name);
        ASSERT_NE(md, nullptr) << spec.name;
        EXPECT_EQ(EVP_MD_get_type(md), spec.nid) << spec.name;
        EXPECT_EQ(ctx->signature_digest(spec.name), md) << "fetched again: " << spec.name;
        EXPECT_EQ(EVP_MD_get0_provider(md) != nullptr, true);
    }
}

TEST_F(ContextDigests, AnyOfOpenSslsNamesFindsTheSameDigest) {
    const EVP_MD* sha256 = ctx->signature_digest("SHA2-256");
    ASSERT_NE(sha256, nullptr);
    for (const char* name : {"SHA256", "sha256", "SHA-256", "sha2-256", "2.16.840.1.101.3.4.2.1"}) {
        EXPECT_EQ(ctx->signature_digest(name), sha256) << name;
    }
    EXPECT_EQ(ctx->signature_digest("SHA512-256"), ctx->signature_digest("SHA2-512/256"));
    EXPECT_EQ(ctx->signature_digest("sha3-384"), ctx->signature_digest("SHA3-384"));
}

TEST_F(ContextDigests, DigestsWithoutASignatureUseAreNotThere) {
    for (const char* name : {"MD5", "MD5-SHA1", "SHAKE256", "SM3", "", "SHA256 ", "nonsense"}) {
        EXPECT_EQ(ctx->signature_digest(name), nullptr) << name;
    }
}

TEST_F(ContextDigests, ADigestFetchedElsewhereMapsToTheContextsOwn) {
    EVP_MD* other = EVP_MD_fetch(nullptr, "SHA384", "provider=default");
    ASSERT_NE(other, nullptr);
    EXPECT_EQ(ctx->signature_digest(other), ctx->signature_digest("SHA384"));
    EVP_MD_free(other);
    EVP_MD* md5 = EVP_MD_fetch(nullptr, "MD5", "provider=default");
    ASSERT_NE(md5, nullptr);
    EXPECT_EQ(ctx->signature_digest(md5), nullptr);
    EVP_MD_free(md5);
    EXPECT_EQ(ctx->signature_digest(static_cast<const EVP_MD*>(nullptr)), nullptr);
}

} // namespace
