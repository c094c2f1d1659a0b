#include "abi/metrics_param.hpp"

#include "abi/core.hpp"
#include "obs/metrics.hpp"

#include <openssl/params.h>

#include <cstring>
#include <string>

namespace hsmp::abi {

Result<void> start_metrics() {
    auto table = obs::process_table();
    if (!table) {
        return table.error();
    }
    obs::set_op_observer(&obs::record_process_event);
    return ok();
}

int get_metrics_param(OSSL_PARAM& param) {
    if (param.data_type != OSSL_PARAM_UTF8_STRING) {
        core().raise(Error(Code::InvalidArgument, "the pkcs11-metrics parameter is a UTF-8 string "
                                                  "(OSSL_PARAM_UTF8_STRING)"));
        return 0;
    }
    obs::MetricsTable* table = obs::current_process_table();
    if (table == nullptr) {
        // Mapping failed at provider init: try again, and say why if it still fails.
        if (auto started = start_metrics(); !started) {
            core().raise(started.error().with_context("pkcs11-metrics"));
            return 0;
        }
        table = obs::current_process_table();
    }
    const std::string text = table->render();
    param.return_size = text.size();
    if (param.data == nullptr) {
        return 1;
    }
    if (param.data_size < text.size() + 1) {
        // Expected in the size protocol (the text grew since the caller asked): no error
        // on the queue, the caller grows its buffer to return_size + 1 and asks again.
        return 0;
    }
    std::memcpy(param.data, text.data(), text.size());
    static_cast<char*>(param.data)[text.size()] = '\0';
    return 1;
}

} // namespace hsmp::abi
