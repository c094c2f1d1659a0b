// Turns OpenSSL's passphrase callback (store open, decoder) into the PKCS#11 layer's PIN
// callback, so an application's password source (nginx ssl_password_file, a PEM callback)
// can supply a token PIN. The layer never prompts by itself.
#pragma once

#include "pkcs11/pin.hpp"

#include <openssl/core.h>

namespace hsmp::ops {

/// Empty when `cb` is null. The callback is asked with OSSL_PASSPHRASE_PARAM_INFO naming
/// the token; its answer goes straight into a SecureBuffer.
[[nodiscard]] p11::PinCallback pin_callback(OSSL_PASSPHRASE_CALLBACK* cb, void* arg);

} // namespace hsmp::ops
