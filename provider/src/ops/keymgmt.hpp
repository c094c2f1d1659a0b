// Key management semantics (OpenSSL provider-keymgmt(7)) for token keys: what a key has,
// matching, public export and import, and the parameters OpenSSL asks for. Private
// components never leave: a request for them is an error.
#pragma once

#include "common/result.hpp"
#include "ops/key.hpp"

#include <openssl/core.h>

namespace hsmp::ops {

/// keymgmt has(): public parts and domain parameters always; the private half only when the
/// key lives in the token.
[[nodiscard]] bool key_has(const Key& key, int selection) noexcept;

/// keymgmt get_params(): answered from the public key (bits, security-bits, max-size,
/// group, encoded public key, n, e, ...) plus the default digest.
[[nodiscard]] Result<void> key_get_params(const Key& key, OSSL_PARAM params[]);

/// keymgmt export(): public parts and parameters only; any selection that includes the
/// private key is refused with a clear error, as is everything when export is disabled.
[[nodiscard]] Result<void> key_export(const Key& key, int selection, OSSL_CALLBACK* cb,
                                      void* cbarg);

/// keymgmt import(): a public-only key from public parts (used when OpenSSL compares a
/// certificate's key with ours, or verifies with our keymgmt).
[[nodiscard]] Result<std::shared_ptr<Key>> key_import(ProviderContext& ctx, KeyKind kind,
                                                      int selection, const OSSL_PARAM params[]);

/// The parameter lists keymgmt advertises for import/export of `kind` (public parts).
[[nodiscard]] const OSSL_PARAM* key_io_types(KeyKind kind) noexcept;
/// The parameters get_params() answers for `kind`.
[[nodiscard]] const OSSL_PARAM* key_gettable_params(KeyKind kind) noexcept;

} // namespace hsmp::ops
