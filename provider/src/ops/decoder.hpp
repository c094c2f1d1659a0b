// Decoders (provider-decoder(7)) that turn a key-reference PEM back into the token key it
// names. Two stages, the shape latchset/pkcs11-provider uses, so OpenSSL 3.0 finds them from
// every entry point (file: store, PEM_read_bio_PrivateKey, OSSL_DECODER):
//   1. "DER" with input=pem: reads one PEM block; when its label is "PKCS#11 PROVIDER URI"
//      passes the DER on with data structure "pk11-uri", otherwise declines.
//   2. one decoder per key type (RSA, RSA-PSS, EC, ED25519, ED448) with input=der,
//      structure=pk11-uri: parses the DER and the URI, finds the private key and hands OpenSSL
//      a reference to it when the key is of the decoder's type.
#pragma once

#include "common/result.hpp"
#include "ops/context.hpp"
#include "ops/key.hpp"
#include "pkcs11/pin.hpp"

#include <openssl/core.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

namespace hsmp::ops {

/// Stage 1: the DER of the next PEM block in `in` when it is a key-reference PEM; nullopt
/// when the block is anything else (another decoder's business) or there is no block.
[[nodiscard]] Result<std::optional<std::vector<std::uint8_t>>>
read_key_reference_pem(const ProviderContext& ctx, OSSL_CORE_BIO* in);

/// Stage 1's check of a key-reference DER: well-formed, a valid URI, and exactly one private
/// key matches. In the file: store the DER goes from stage 1 to the store's constructor, which
/// runs stage 2 inside an error mark and reports only "unsupported" when it fails; resolving
/// once here, where a failure ends decoding with the error kept, is what lets
/// `openssl pkey -in key.pem` say which URI matched nothing (or several keys).
[[nodiscard]] Result<void> check_key_reference(ProviderContext& ctx,
                                               std::span<const std::uint8_t> der,
                                               const p11::PinCallback& pin);

/// Reads everything left in `in` (stage 2's DER), capped at `limit` bytes.
[[nodiscard]] Result<std::vector<std::uint8_t>> read_all(const ProviderContext& ctx,
                                                         OSSL_CORE_BIO* in, std::size_t limit);

/// The outcome of stage 2 for one key type.
struct DecodedKey {
    enum class Status : std::uint8_t {
        NotOurs,   ///< the DER is not a key-reference: let other decoders try
        OtherKind, ///< a key-reference to a key of another type: let that type's decoder take it
        Loaded,    ///< `key` is the token key
    };
    Status status = Status::NotOurs;
    std::shared_ptr<Key> key;
};

/// Stage 2. Errors only for a genuine key reference that cannot be resolved (bad URI, no
/// such key, ambiguous, token absent, wrong PIN): those are the user's real problem and
/// must surface instead of a generic "unsupported format".
[[nodiscard]] Result<DecodedKey> decode_key_reference(ProviderContext& ctx,
                                                      std::span<const std::uint8_t> der,
                                                      KeyKind wanted, const p11::PinCallback& pin);

} // namespace hsmp::ops
