// A key as this provider hands it to OpenSSL (keymgmt's key data, shared by reference).
//
// A token key is its private-key object on the token plus its public parts, read once at
// load into a software EVP_PKEY (in the context's private library context) that never holds
// private components. Public parts serve export, match, get_params, encoders and software
// verification; the private object is used only through the PKCS#11 layer. A public-only
// key (imported public parts) has no token object.
#pragma once

#include "common/result.hpp"
#include "ops/context.hpp"
#include "pkcs11/object.hpp"

#include <openssl/evp.h>
#include <p11uri/uri.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace hsmp::ops {

enum class KeyKind : std::uint8_t { Rsa, RsaPss, Ec, Ed25519, Ed448 };

/// OpenSSL's canonical algorithm name: "RSA", "RSA-PSS", "EC", "ED25519", "ED448".
[[nodiscard]] std::string_view key_kind_name(KeyKind kind) noexcept;

/// The family (ops/offer.hpp) whose mechanisms a key of `kind` signs with.
[[nodiscard]] Family key_family(KeyKind kind) noexcept;

/// Refuses to hand OpenSSL a token key (`what` names it) of a family the provider does not
/// offer: OpenSSL would find no key management for it and say only "unsupported".
[[nodiscard]] Result<void> require_offered(ProviderContext& ctx, Family family,
                                           const std::string& what);

class Key {
public:
    /// A token key from its private-key object: reads the public parts (RSA modulus and
    /// exponent; EC parameters from the private object and the point from the public-key
    /// object with the same CKA_ID, or from the certificate with that CKA_ID).
    static Result<std::shared_ptr<Key>> from_token(ProviderContext& ctx,
                                                   std::shared_ptr<p11::Object> private_key);
    /// A token public-key object (type=public), without a private half.
    static Result<std::shared_ptr<Key>> from_token_public(ProviderContext& ctx,
                                                          std::shared_ptr<p11::Object> public_key);
    /// A public-only key from public parts OpenSSL imported; `pub` is up-referenced.
    static Result<std::shared_ptr<Key>> from_public(ProviderContext& ctx, KeyKind kind,
                                                    EVP_PKEY* pub);

    ~Key();
    Key(const Key&) = delete;
    Key& operator=(const Key&) = delete;

    [[nodiscard]] KeyKind kind() const noexcept { return m_kind; }
    [[nodiscard]] bool has_private() const noexcept { return m_private != nullptr; }
    /// The token private key, or nullptr for a public-only key.
    [[nodiscard]] p11::Object* private_object() const noexcept { return m_private.get(); }
    /// Public parts in the software library context. Never carries private components.
    [[nodiscard]] EVP_PKEY* public_pkey() const noexcept { return m_public; }
    [[nodiscard]] ProviderContext& context() const noexcept { return *m_ctx; }

    [[nodiscard]] int bits() const noexcept;
    [[nodiscard]] int security_bits() const noexcept;
    /// Largest signature in bytes (RSA: modulus size; ECDSA: DER of two integers).
    [[nodiscard]] int max_size() const noexcept;
    /// EC group name ("prime256v1"), empty for other kinds.
    [[nodiscard]] std::string group_name() const;
    /// The key's canonical URI (token identity, label, id, type); no PIN.
    [[nodiscard]] uri::Uri uri() const;
    /// format_redacted(uri()), for messages (formatted once, at load).
    [[nodiscard]] const std::string& describe() const noexcept { return m_description; }
    /// Why a keymgmt export that includes the private key is refused, and why any export
    /// is refused when pkcs11-module-allow-export is off (formatted once, at load: OpenSSL
    /// asks for them whenever it offers the key to another provider, and drops the error).
    [[nodiscard]] const std::string& private_export_refusal() const noexcept {
        return m_private_export_refusal;
    }
    [[nodiscard]] const std::string& export_disabled_refusal() const noexcept {
        return m_export_disabled_refusal;
    }

    /// Whether the key's token offers `mechanism`. The token's list is read once per key and
    /// kept, so the signing path takes no token lock for it.
    [[nodiscard]] bool token_has_mechanism(CK_MECHANISM_TYPE mechanism) const;

    /// Same public key (for keymgmt match and X509_check_private_key).
    [[nodiscard]] bool same_public(const Key& other) const;

private:
    Key(ProviderContext& ctx, KeyKind kind, std::shared_ptr<p11::Object> priv,
        std::shared_ptr<p11::Object> pub_obj, EVP_PKEY* pub);

    ProviderContext* m_ctx;
    KeyKind m_kind;
    std::shared_ptr<p11::Object> m_private;
    std::shared_ptr<p11::Object> m_public_object; // token public key, if any
    EVP_PKEY* m_public;                           // owned
    std::string m_description;                    // describe(), fixed at construction
    std::string m_private_export_refusal;         // fixed at construction
    std::string m_export_disabled_refusal;        // fixed at construction
    mutable std::once_flag m_mechanisms_once;
    mutable std::vector<CK_MECHANISM_TYPE> m_mechanisms; // sorted; written once
};

} // namespace hsmp::ops
