#include "abi/config_source.hpp"

#include "common/config.hpp"

#include <openssl/conf.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>

#include <algorithm>
#include <set>

namespace hsmp::abi {

namespace {

// Keys present in our section of the configuration file, or empty when the file or the
// section cannot be found (the provider was loaded without a configuration section).
std::vector<std::string> section_keys(const std::string& provider_name) {
    std::vector<std::string> keys;
    char* file = CONF_get1_default_config_file();
    if (file == nullptr) {
        return keys;
    }
    ERR_set_mark();
    CONF* conf = NCONF_new(nullptr);
    long line = 0;
    if (conf != nullptr && NCONF_load(conf, file, &line) > 0) {
        const char* init = NCONF_get_string(conf, nullptr, "openssl_conf");
        const char* providers = init ? NCONF_get_string(conf, init, "providers") : nullptr;
        const char* ours =
            providers ? NCONF_get_string(conf, providers, provider_name.c_str()) : nullptr;
        STACK_OF(CONF_VALUE)* values = ours ? NCONF_get_section(conf, ours) : nullptr;
        for (int i = 0; values != nullptr && i < sk_CONF_VALUE_num(values); ++i) {
            keys.emplace_back(sk_CONF_VALUE_value(values, i)->name);
        }
    }
    NCONF_free(conf);
    ERR_pop_to_mark();
    OPENSSL_free(file);
    return keys;
}

} // namespace

std::vector<std::pair<std::string, std::string>> read_provider_section(const CoreFunctions& core) {
    std::vector<std::pair<std::string, std::string>> entries;
    std::set<std::string> seen;
    for (const std::string_view key : config_keys()) {
        const std::string name(key);
        if (core.get_params == nullptr) {
            break;
        }
        const char* value = nullptr;
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_ptr(name.c_str(), const_cast<char**>(&value), 0),
            OSSL_PARAM_construct_end(),
        };
        if (core.get_params(core.handle, params) == 1 && OSSL_PARAM_modified(params) &&
            value != nullptr) {
            entries.emplace_back(name, value);
            seen.insert(name);
        }
    }
    const std::string provider_name = core.get_string(OSSL_PROV_PARAM_CORE_PROV_NAME);
    if (!provider_name.empty()) {
        for (const std::string& key : section_keys(provider_name)) {
            const bool known =
                std::find(config_keys().begin(), config_keys().end(), key) != config_keys().end();
            // A known key the core did not hand over belongs to another instance of the
            // section (the provider loaded again without its configuration): not ours to read.
            if (!known && seen.count(key) == 0 && !is_openssl_provider_key(key)) {
                // Unknown to us: parse_config() rejects it by name. The value is not needed
                // (and may be a secret), so it is not read.
                entries.emplace_back(key, "");
            }
        }
    }
    return entries;
}

} // namespace hsmp::abi
