// The provider context: one per loaded provider instance (OSSL_provider_init). Holds the
// configuration, the PKCS#11 library (modules, tokens) and a private OpenSSL library
// context with the default provider, used for everything the provider computes in software
// (digests, verification from public keys, encoding public keys). Using a private context
// means a token that calls back into libcrypto, or an application whose default properties
// route fetches to this provider, can never re-enter the token (DESIGN.md section 3).
#pragma once

#include "common/config.hpp"
#include "common/result.hpp"
#include "ops/offer.hpp"
#include "pkcs11/library.hpp"

#include <openssl/core.h>
#include <openssl/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hsmp::ops {

class ProviderContext {
public:
    /// Builds the context: applies PKCS11_PROVIDER_MODULE over the configured module path,
    /// reads a file: PIN now, creates the software library context. With
    /// pkcs11-module-load-behavior = early the module is loaded and initialised here.
    static Result<std::unique_ptr<ProviderContext>> create(ProviderConfig config,
                                                           const OSSL_CORE_HANDLE* handle,
                                                           const OSSL_DISPATCH* core_in = nullptr);
    ~ProviderContext();
    ProviderContext(const ProviderContext&) = delete;
    ProviderContext& operator=(const ProviderContext&) = delete;

    [[nodiscard]] p11::Library& library() noexcept { return *m_library; }
    [[nodiscard]] const ProviderConfig& config() const noexcept { return m_config; }
    [[nodiscard]] const OSSL_CORE_HANDLE* handle() const noexcept { return m_handle; }
    /// Private library context with the default provider (never this provider).
    [[nodiscard]] OSSL_LIB_CTX* software_libctx() const noexcept { return m_sw_libctx; }
    /// Child of the application's library context, made from the core's dispatch table: it
    /// sees the application's providers and has the core's BIO functions
    /// (BIO_new_from_core_bio). Null when created without a core (unit tests).
    [[nodiscard]] OSSL_LIB_CTX* app_libctx() const noexcept { return m_app_libctx; }

    /// The application's library context must have a provider for everything this one
    /// leaves to others (digests, ciphers, TLS): OpenSSL's default (or FIPS) provider.
    /// Loading a provider explicitly disables the automatic default, so `-provider pkcs11`
    /// alone is a common mistake; this names it.
    [[nodiscard]] Result<void> require_default_provider() const;

    /// True when the configuration blocks an operation class ("signature", "store", ...).
    [[nodiscard]] bool blocked(std::string_view operation) const;

    /// The key-management and signature families offered to OpenSSL (ops/offer.hpp). The
    /// first call asks the configured module's tokens; the answer is kept for the context's
    /// lifetime, forked children included. Null only when the answer is not known yet and
    /// cannot be found now: this thread is inside a PKCS#11 call (a software token calling
    /// back into libcrypto) or is itself asking the tokens. No lock is held while the tokens
    /// are asked; two threads asking at once may both ask, and the first answer is kept.
    [[nodiscard]] const AlgorithmOffer* algorithm_offer();
    /// The digest of sig::digest_specs() that `name` names (any of OpenSSL's names for it,
    /// case-insensitive: "SHA256", "SHA2-256", "sha256", its OID), from the software library
    /// context, or null. Fetched once, when the context is made: a signature takes no
    /// method-store lookup and no lock for its digest. The EVP_MD belongs to the context
    /// and lives as long as it; callers borrow it.
    [[nodiscard]] const EVP_MD* signature_digest(std::string_view name) const noexcept;
    /// The same for an EVP_MD fetched elsewhere: the context's digest with its NID, or null.
    [[nodiscard]] const EVP_MD* signature_digest(const EVP_MD* md) const noexcept;

private:
    ProviderContext() = default;
    void fetch_signature_digests();

    /// One fetched digest and every name OpenSSL knows it by.
    struct Digest {
        EVP_MD* md;
        std::vector<std::string> names;
    };

    ProviderConfig m_config;
    const OSSL_CORE_HANDLE* m_handle = nullptr;
    std::unique_ptr<p11::Library> m_library;
    OSSL_LIB_CTX* m_sw_libctx = nullptr;
    OSSL_LIB_CTX* m_app_libctx = nullptr; // child of the application's, to see its providers
    OSSL_PROVIDER* m_sw_default = nullptr;
    std::atomic<const AlgorithmOffer*> m_offer{nullptr}; // owned; set once
    std::vector<Digest> m_digests; // written once in create(), read-only afterwards
};

} // namespace hsmp::ops
