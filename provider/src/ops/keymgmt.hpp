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

/// Why keymgmt export() of `selection` is refused for `key`, or null when it is allowed:
/// any selection that includes the private key, and everything when export is disabled.
/// The text is the key's own, made at load, so a refusal formats and allocates nothing.
/// OpenSSL 3.0 asks for OSSL_KEYMGMT_SELECT_ALL each time it offers a key to another
/// provider (and drops the error when that was only a try), and a user's explicit export
/// (`openssl pkey -outform DER`) asks the same way; both get the same error, cheaply.
[[nodiscard]] const std::string* export_refusal(const Key& key, int selection) noexcept;

/// keymgmt export() of a selection export_refusal() allows: public parts and parameters.
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
