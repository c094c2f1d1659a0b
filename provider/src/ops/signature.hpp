// Signature operations (provider-signature(7)) with token keys.
//
// Signing: the message is hashed in software (the provider's private library context) and
// the digest is signed in the token with the raw mechanism — CKM_RSA_PKCS over a DigestInfo,
// CKM_RSA_PKCS_PSS with its parameters, CKM_ECDSA (r || s turned into DER), CKM_EDDSA over
// the whole message. Hashing here rather than with CKM_SHA256_RSA_PKCS keeps multi-part
// input off the token and lets any digest OpenSSL has be used.
// Verification needs only the public key and runs in software.
#pragma once

#include "common/result.hpp"
#include "ops/key.hpp"

#include <openssl/core.h>
#include <openssl/evp.h>

#include <memory>
#include <string>
#include <vector>

namespace hsmp::ops {

enum class SigAlgorithm : std::uint8_t { Rsa, Ecdsa, Ed25519, Ed448 };

class SignatureContext {
public:
    SignatureContext(ProviderContext& ctx, SigAlgorithm alg);
    ~SignatureContext();
    SignatureContext(const SignatureContext&) = delete;
    SignatureContext& operator=(const SignatureContext&) = delete;
    /// A copy for EVP_MD_CTX_copy and friends (digest state included).
    [[nodiscard]] Result<std::unique_ptr<SignatureContext>> duplicate() const;

    /// sign_init / verify_init: `md` empty means the input is already a digest (or, for
    /// EdDSA, the message).
    [[nodiscard]] Result<void> init(std::shared_ptr<Key> key, bool signing,
                                    const OSSL_PARAM params[]);
    /// digest_sign_init / digest_verify_init.
    [[nodiscard]] Result<void> digest_init(std::shared_ptr<Key> key, bool signing,
                                           const char* md_name, const OSSL_PARAM params[]);

    /// Signs `tbs` (a digest, or an encoded block / message when no digest is set). With
    /// `sig` null only the maximum size is reported.
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

    static const OSSL_PARAM* settable_params(SigAlgorithm alg) noexcept;
    static const OSSL_PARAM* gettable_params() noexcept;

private:
    [[nodiscard]] Result<void> set_digest(const char* name);
    [[nodiscard]] Result<std::vector<unsigned char>> token_sign(const unsigned char* tbs,
                                                                size_t tbslen);
    [[nodiscard]] Result<std::vector<unsigned char>> algorithm_id() const;
    [[nodiscard]] int resolved_saltlen() const;
    [[nodiscard]] Result<void> configure_verify(EVP_PKEY_CTX* pctx) const;
    [[nodiscard]] std::string what() const;

    ProviderContext* m_ctx;
    SigAlgorithm m_alg;
    std::shared_ptr<Key> m_key;
    bool m_signing = true;
    EVP_MD* m_md = nullptr;               // digest of the signature, or null
    EVP_MD* m_mgf1 = nullptr;             // PSS MGF1 digest (defaults to m_md)
    EVP_MD_CTX* m_mdctx = nullptr;        // running digest for digest_sign/verify
    std::vector<unsigned char> m_message; // EdDSA digest_sign input
    int m_pad = 1;      // RSA_PKCS1_PADDING, RSA_PKCS1_PSS_PADDING, RSA_NO_PADDING
    int m_saltlen = -1; // RSA_PSS_SALTLEN_DIGEST
};

} // namespace hsmp::ops
