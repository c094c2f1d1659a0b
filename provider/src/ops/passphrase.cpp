#include "ops/passphrase.hpp"

#include "common/secure_buffer.hpp"

#include <openssl/core_names.h>
#include <openssl/params.h>

#include <array>
#include <string>

namespace hsmp::ops {

p11::PinCallback pin_callback(OSSL_PASSPHRASE_CALLBACK* cb, void* arg) {
    if (cb == nullptr) {
        return {};
    }
    return [cb, arg](std::string_view info) -> Result<SecureBuffer> {
        std::array<char, 256> buf{};
        std::size_t len = 0;
        std::string prompt(info); // OpenSSL shows "Enter pass phrase for <info>:"
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_PASSPHRASE_PARAM_INFO, prompt.data(), 0),
            OSSL_PARAM_construct_end(),
        };
        if (cb(buf.data(), buf.size(), &len, params, arg) == 0 || len == 0 || len > buf.size()) {
            secure_wipe(buf.data(), buf.size());
            return Error(Code::Unauthenticated,
                         "the application's passphrase callback gave no PIN for " +
                             std::string(info));
        }
        SecureBuffer pin(std::string_view(buf.data(), len));
        secure_wipe(buf.data(), buf.size());
        return pin;
    };
}

} // namespace hsmp::ops
