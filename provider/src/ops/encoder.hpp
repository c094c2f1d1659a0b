// Encoders (provider-encoder(7)) for this provider's keys. Public keys are encoded by
// OpenSSL's default provider from the key's software public half, so the bytes are exactly
// what the default provider writes for the same key. A private key is written only as the
// key-reference PEM (its URI); any request for private material is refused.
#pragma once

#include "common/result.hpp"
#include "ops/context.hpp"
#include "ops/key.hpp"

#include <openssl/core.h>
#include <openssl/types.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace hsmp::ops {

/// What an encoder implementation produces.
enum class EncoderOutput : std::uint8_t {
    SpkiDer,         ///< output=der, structure=SubjectPublicKeyInfo
    SpkiPem,         ///< output=pem, structure=SubjectPublicKeyInfo
    Text,            ///< output=text: public parts and the key's URI
    KeyReferencePem, ///< output=pem, structure=PrivateKeyInfo: the key-reference PEM
    DeniedPrivate,   ///< other private-key encodings (DER PrivateKeyInfo, type-specific):
                     ///< always refused, registered so the refusal names the reason
};

/// Whether an encoder of this kind serves `selection` (OSSL_KEYMGMT_SELECT_*). Public
/// encoders serve any selection with the public key; private ones need the private key.
[[nodiscard]] bool encoder_does_selection(EncoderOutput output, int selection) noexcept;

/// The bytes to write for `key`. Errors: Unsupported (HSMP_R_EXPORT_DENIED's wording) for
/// private material, for a key-reference PEM of a key without a token private key, and when
/// pkcs11-module-encode-provider-uri-to-pem is off.
[[nodiscard]] Result<std::vector<std::uint8_t>> encode_key(const Key& key, EncoderOutput output,
                                                           int selection);

/// The error for a request that would take private key material out of the token.
[[nodiscard]] Error export_denied(const Key& key, std::string_view what);

/// Writes all of `bytes` to an OpenSSL core BIO, through a BIO made in the provider's
/// library context (which must have been created from the core's dispatch table).
[[nodiscard]] Result<void> write_core_bio(const ProviderContext& ctx, OSSL_CORE_BIO* out,
                                          std::span<const std::uint8_t> bytes);

/// A BIO reading from / writing to a core BIO, or an Internal error saying why not.
struct BioFree {
    void operator()(BIO* b) const noexcept;
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
[[nodiscard]] Result<BioPtr> bio_from_core(const ProviderContext& ctx, OSSL_CORE_BIO* cbio);

} // namespace hsmp::ops
