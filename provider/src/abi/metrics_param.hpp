// The provider's metrics at the C ABI: the table mapped and the observer installed at
// provider init, and the "pkcs11-metrics" get_params parameter whose contract is in
// provider/include/pkcs11_provider.h.
#pragma once

#include "common/result.hpp"

#include <openssl/core.h>

namespace hsmp::abi {

/// Maps the process's shared metrics table (obs::process_table) and installs it as the
/// OpEvent observer. Called at every provider init; the first call in a process maps, the
/// others find the same table. On failure the provider works without metrics and the
/// parameter reports why.
Result<void> start_metrics();

/// Answers a get_params request for PKCS11_PROVIDER_PARAM_METRICS. Returns 1 or 0 as
/// OpenSSL's get_params does; 0 for a buffer that is too small queues no error.
[[nodiscard]] int get_metrics_param(OSSL_PARAM& param);

} // namespace hsmp::abi
