// OSSL_provider_init: the only symbol pkcs11.so exports (hsmp.map).
//
// This is the wiring-only entry of the provider (shaped like OpenSSL's defltprov.c). The
// provider core issue fills in configuration, the operation tables and the error strings;
// for now the module loads, reports its name, version and status, and offers no algorithms.
#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include <new>

namespace hsmp::abi {
namespace {

constexpr const char* kName = "pkcs11 (HSM) provider";

struct ProviderContext {
    const OSSL_CORE_HANDLE* core;
};

const OSSL_PARAM* prov_gettable_params(void* /*provctx*/) noexcept {
    static const OSSL_PARAM kParams[] = {
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_NAME, OSSL_PARAM_UTF8_PTR, nullptr, 0),
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_VERSION, OSSL_PARAM_UTF8_PTR, nullptr, 0),
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_BUILDINFO, OSSL_PARAM_UTF8_PTR, nullptr, 0),
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_STATUS, OSSL_PARAM_INTEGER, nullptr, 0),
        OSSL_PARAM_END,
    };
    return kParams;
}

int prov_get_params(void* /*provctx*/, OSSL_PARAM params[]) noexcept {
    OSSL_PARAM* p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME);
    if (p != nullptr && OSSL_PARAM_set_utf8_ptr(p, kName) == 0) {
        return 0;
    }
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION);
    if (p != nullptr && OSSL_PARAM_set_utf8_ptr(p, HSMP_VERSION) == 0) {
        return 0;
    }
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_BUILDINFO);
    if (p != nullptr && OSSL_PARAM_set_utf8_ptr(p, HSMP_VERSION) == 0) {
        return 0;
    }
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS);
    if (p != nullptr && OSSL_PARAM_set_int(p, 1) == 0) {
        return 0;
    }
    return 1;
}

const OSSL_ALGORITHM* prov_query_operation(void* /*provctx*/, int /*operation_id*/,
                                           int* no_cache) noexcept {
    *no_cache = 0;
    return nullptr;
}

void prov_teardown(void* provctx) noexcept {
    delete static_cast<ProviderContext*>(provctx);
}

template <class Fn> OSSL_DISPATCH entry(int id, Fn fn) {
    return OSSL_DISPATCH{id, reinterpret_cast<void (*)()>(fn)};
}

} // namespace
} // namespace hsmp::abi

extern "C" __attribute__((visibility("default"))) int
OSSL_provider_init(const OSSL_CORE_HANDLE* handle, const OSSL_DISPATCH* /*in*/,
                   const OSSL_DISPATCH** out, void** provctx) noexcept {
    using namespace hsmp::abi;
    static const OSSL_DISPATCH kTable[] = {
        entry(OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, &prov_gettable_params),
        entry(OSSL_FUNC_PROVIDER_GET_PARAMS, &prov_get_params),
        entry(OSSL_FUNC_PROVIDER_QUERY_OPERATION, &prov_query_operation),
        entry(OSSL_FUNC_PROVIDER_TEARDOWN, &prov_teardown),
        {0, nullptr},
    };
    auto* ctx = new (std::nothrow) ProviderContext{handle};
    if (ctx == nullptr) {
        return 0;
    }
    *provctx = ctx;
    *out = kTable;
    return 1;
}
