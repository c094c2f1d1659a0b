// Signature operations (provider-signature(7)) with token keys.
//
// Signing: the message is hashed in software (the provider's private library context, with
// the EVP_MD fetched once at init) and the digest is signed in the token with the raw
// mechanism — CKM_RSA_PKCS over a DigestInfo, CKM_RSA_PKCS_PSS with its parameters,
// CKM_ECDSA (r || s turned into DER), CKM_EDDSA over the whole message. Hashing here keeps
// multi-part input off the token and lets every SHA-1/SHA-2/SHA-3 digest be used. A token
// that lacks the raw mechanism but offers the combined one (CKM_SHA256_RSA_PKCS,
// CKM_SHA256_RSA_PKCS_PSS, CKM_ECDSA_SHA256, ...) gets the whole message in one C_Sign.
// RSA padding "none" is refused: raw RSA with a signing key is a decryption oracle.
// Verification needs only the public key and runs in software.
#pragma once

#include "common/result.hpp"
#include "ops/key.hpp"

#include <openssl/core.h>
#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hsmp::ops {

/// The signature algorithm OpenSSL fetched: "RSA" (PKCS#1 v1.5 or PSS by pad-mode),
/// "RSA-PSS" (PSS only), "ECDSA", "ED25519", "ED448".
enum class SigAlgorithm : std::uint8_t { Rsa, RsaPss, Ecdsa, Ed25519, Ed448 };

/// "RSA", "RSA-PSS", "ECDSA", "Ed25519", "Ed448", for messages.
[[nodiscard]] std::string_view signature_algorithm_name(SigAlgorithm alg) noexcept;

class SignatureContext {
public:
    SignatureContext(ProviderContext& ctx, SigAlgorithm alg);
    ~SignatureContext();
    SignatureContext(const SignatureContext&) = delete;
    SignatureContext& operator=(const SignatureContext&) = delete;
    /// A copy for EVP_MD_CTX_copy and EVP_DigestSignFinal (digest state included).
    [[nodiscard]] Result<std::unique_ptr<SignatureContext>> duplicate() const;

    /// sign_init / verify_init: the input to sign() / verify() is a digest (the digest
    /// parameter names which), or with no digest set the raw input of the padding.
    [[nodiscard]] Result<void> init(std::shared_ptr<Key> key, bool signing,
                                    const OSSL_PARAM params[]);
    /// digest_sign_init / digest_verify_init; `md_name` null or empty means SHA-256
    /// (none for EdDSA).
    [[nodiscard]] Result<void> digest_init(std::shared_ptr<Key> key, bool signing,
                                           const char* md_name, const OSSL_PARAM params[]);

    /// Signs `tbs` (a digest). With `sig` null only the maximum size is reported.
    [[nodiscard]] Result<void> sign(unsigned char* sig, size_t* siglen, size_t sigsize,
                                    const unsigned char* tbs, size_t tbslen);
    [[nodiscard]] Result<bool> verify(const unsigned char* sig, size_t siglen,
                                      const unsigned char* tbs, size_t tbslen);

    [[nodiscard]] Result<void> update(const unsigned char* data, size_t len);
    [[nodiscard]] Result<void> sign_final(unsigned char* sig, size_t* siglen, size_t sigsize);
    [[nodiscard]] Result<bool> verify_final(const unsigned char* sig, size_t siglen);
    /// One-shot digest_sign / digest_verify (EdDSA needs these).
    [[nodiscard]] Result<void> digest_sign(unsigned char* sig, size_t* siglen, size_t sigsize,
                                           const unsigned char* tbs, size_t tbslen);
    [[nodiscard]] Result<bool> digest_verify(const unsigned char* sig, size_t siglen,
                                             const unsigned char* tbs, size_t tbslen);

    [[nodiscard]] Result<void> set_params(const OSSL_PARAM params[]);
    [[nodiscard]] Result<void> get_params(OSSL_PARAM params[]) const;
    /// Parameters of the running message digest (EVP_MD_CTX_set_params on a DigestSign
    /// context); an error when no digest runs.
    [[nodiscard]] Result<void> set_md_params(const OSSL_PARAM params[]);
    [[nodiscard]] Result<void> get_md_params(OSSL_PARAM params[]) const;
    [[nodiscard]] const OSSL_PARAM* settable_md_params() const noexcept;
    [[nodiscard]] const OSSL_PARAM* gettable_md_params() const noexcept;

    [[nodiscard]] static const OSSL_PARAM* settable_params(SigAlgorithm alg) noexcept;
    [[nodiscard]] static const OSSL_PARAM* gettable_params(SigAlgorithm alg) noexcept;

private:
    /// How the token is asked for one signature.
    struct Plan {
        CK_MECHANISM_TYPE mechanism = 0;
        bool whole_message = false; ///< combined mechanism or EdDSA: the token hashes
        bool encode_pss = false;    ///< EMSA-PSS built here, signed with CKM_RSA_X_509
        CK_RSA_PKCS_PSS_PARAMS pss{};
    };
    /// What digest_sign_update does with message bytes, fixed at the first update.
    enum class Feed : std::uint8_t { Undecided, Hash, Collect };

    [[nodiscard]] bool eddsa() const noexcept {
        return m_alg == SigAlgorithm::Ed25519 || m_alg == SigAlgorithm::Ed448;
    }
    [[nodiscard]] bool rsa() const noexcept {
        return m_alg == SigAlgorithm::Rsa || m_alg == SigAlgorithm::RsaPss;
    }
    void reset() noexcept;
    [[nodiscard]] Result<void> set_digest(const char* name);
    [[nodiscard]] Result<void> set_rsa_params(const OSSL_PARAM params[]);
    [[nodiscard]] Result<Plan> plan(bool message) const;
    [[nodiscard]] Result<Plan> plan_rsa(bool message) const;
    [[nodiscard]] Result<Plan> pick(CK_MECHANISM_TYPE raw, CK_MECHANISM_TYPE combined,
                                    bool message) const;
    [[nodiscard]] Result<Feed> decide_feed();
    [[nodiscard]] Result<void> token_sign(const Plan& plan, std::span<const std::uint8_t> input,
                                          unsigned char* sig, size_t* siglen, size_t sigsize);
    [[nodiscard]] Result<void> sign_digest(std::span<const std::uint8_t> digest, unsigned char* sig,
                                           size_t* siglen, size_t sigsize);
    [[nodiscard]] Result<std::span<const std::uint8_t>> finish_digest(unsigned char* buf);
    [[nodiscard]] Result<std::vector<std::uint8_t>> algorithm_id() const;
    [[nodiscard]] Result<void> configure_verify(EVP_PKEY_CTX* pctx) const;
    [[nodiscard]] Result<bool> verify_message(const unsigned char* sig, size_t siglen,
                                              const unsigned char* tbs, size_t tbslen);
    [[nodiscard]] std::string what() const;

    ProviderContext* m_ctx;
    SigAlgorithm m_alg;
    std::shared_ptr<Key> m_key;
    bool m_signing = true;
    bool m_digesting = false;            // digest_*_init: the input is the message
    bool m_mdctx_fresh = false;          // m_mdctx initialised and not yet finalised
    Feed m_feed = Feed::Undecided;       // digest_sign: hash here or collect for the token
    const EVP_MD* m_md = nullptr;        // digest of the signature (the context's), or null
    const EVP_MD* m_mgf1 = nullptr;      // PSS MGF1 digest (null: the message digest)
    EVP_MD_CTX* m_mdctx = nullptr;       // running digest for digest_sign/verify
    std::vector<std::uint8_t> m_message; // collected message (EdDSA, combined mechanisms)
    int m_pad = 1;                       // RSA_PKCS1_PADDING or RSA_PKCS1_PSS_PADDING
    int m_saltlen = -2;                  // RSA_PSS_SALTLEN_AUTO, OpenSSL's default
};

} // namespace hsmp::ops
