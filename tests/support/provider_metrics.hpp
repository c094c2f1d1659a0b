// Fetching the provider's metrics the way a host does (provider/include/pkcs11_provider.h):
// ask for the size with a NULL buffer, allocate with slack, fetch, and retry with a larger
// buffer while the text grew in between.
#pragma once

#include <openssl/params.h>
#include <openssl/provider.h>
#include <pkcs11_provider.h>

#include <optional>
#include <string>
#include <vector>

namespace hsmp::test {

/// The metrics text, or nullopt when the provider refused the request. `slack` is the
/// extra room left for growth between the size query and the fetch.
inline std::optional<std::string> fetch_metrics(OSSL_PROVIDER* prov, std::size_t slack = 4096) {
    OSSL_PARAM query[] = {
        OSSL_PARAM_utf8_string(PKCS11_PROVIDER_PARAM_METRICS, nullptr, 0),
        OSSL_PARAM_END,
    };
    if (OSSL_PROVIDER_get_params(prov, query) != 1) {
        return std::nullopt;
    }
    std::size_t need = query[0].return_size;
    for (int tries = 0; tries < 5; ++tries) {
        std::vector<char> buf(need + 1 + slack);
        OSSL_PARAM fetch[] = {
            OSSL_PARAM_utf8_string(PKCS11_PROVIDER_PARAM_METRICS, buf.data(), buf.size()),
            OSSL_PARAM_END,
        };
        if (OSSL_PROVIDER_get_params(prov, fetch) == 1) {
            return std::string(buf.data(), fetch[0].return_size);
        }
        if (fetch[0].return_size < buf.size()) {
            return std::nullopt; // not a size problem
        }
        need = fetch[0].return_size;
    }
    return std::nullopt;
}

} // namespace hsmp::test
