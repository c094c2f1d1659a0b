// OSSL_provider_init: the only symbol pkcs11.so exports (hsmp.map). Wiring only, in the
// shape of OpenSSL's defltprov.c: capture the core functions, read the configuration,
// build the provider context, answer query_operation, get_params, get_reason_strings and
// teardown. No algorithm logic lives here.
#include "abi/algorithms.hpp"
#include "abi/barrier.hpp"
#include "abi/config_source.hpp"
#include "abi/core.hpp"
#include "abi/dispatch.hpp"
#include "abi/keydata.hpp"
#include "abi/metrics_param.hpp"
#include "abi/reasons.hpp"
#include "common/config.hpp"
#include "ops/context.hpp"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <pkcs11_provider.h>

namespace hsmp::abi {
namespace {

constexpr const char* kName = "pkcs11 (HSM) provider";

const OSSL_PARAM* prov_gettable_params(void* /*provctx*/) noexcept {
    static const OSSL_PARAM kParams[] = {
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_NAME, OSSL_PARAM_UTF8_PTR, nullptr, 0),
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_VERSION, OSSL_PARAM_UTF8_PTR, nullptr, 0),
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_BUILDINFO, OSSL_PARAM_UTF8_PTR, nullptr, 0),
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_STATUS, OSSL_PARAM_INTEGER, nullptr, 0),
        OSSL_PARAM_DEFN(PKCS11_PROVIDER_PARAM_METRICS, OSSL_PARAM_UTF8_STRING, nullptr, 0),
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
    p = OSSL_PARAM_locate(params, PKCS11_PROVIDER_PARAM_METRICS);
    if (p != nullptr && guard<int>(0, [&] { return get_metrics_param(*p); }) == 0) {
        return 0;
    }
    return 1;
}

// Families land one by one; a family whose dispatch file is not linked in offers nothing.
const OSSL_ALGORITHM* family(const OSSL_ALGORITHM* (*table)() noexcept) noexcept {
    return table != nullptr ? table() : nullptr;
}

// Key management and signatures: the families the tokens can sign for (ops/offer.hpp). The
// first such question asks the configured module's tokens, lazily, here: OpenSSL asks
// when it first fetches, never at provider load, so an absent token cannot make the load
// fail or block, and nginx's master asks before it forks (the answer is inherited; a
// worker's later PKCS#11 calls re-initialise the module as after any fork).
const OSSL_ALGORITHM* offered(ops::ProviderContext& ctx,
                              const OSSL_ALGORITHM* (*table)(ops::FamilySet) noexcept,
                              int* no_cache) noexcept {
    if (table == nullptr) {
        return nullptr;
    }
    // Unless an answer is given below, OpenSSL must not keep it: it would cache "nothing"
    // for this operation for the provider's lifetime.
    *no_cache = 1;
    return guard<const OSSL_ALGORITHM*>(nullptr, [&]() -> const OSSL_ALGORITHM* {
        const ops::AlgorithmOffer* offer = ctx.algorithm_offer();
        if (offer == nullptr) {
            // Asked from inside a PKCS#11 call (a software token fetching from libcrypto
            // while we ask it for its mechanisms): the token's own crypto is served by other
            // providers (DESIGN.md section 3, re-entrancy), and the real answer comes later.
            return nullptr;
        }
        *no_cache = 0;
        return table(offer->families());
    });
}

const OSSL_ALGORITHM* prov_query_operation(void* provctx, int operation_id,
                                           int* no_cache) noexcept {
    *no_cache = 0;
    auto* h = ProviderHandle::from(provctx);
    if (h == nullptr) {
        return nullptr;
    }
    ops::ProviderContext& ctx = *h->value;
    switch (operation_id) {
    case OSSL_OP_KEYMGMT:
        return ctx.blocked("keymgmt") ? nullptr : offered(ctx, &keymgmt_algorithms, no_cache);
    case OSSL_OP_SIGNATURE:
        return ctx.blocked("signature") ? nullptr : offered(ctx, &signature_algorithms, no_cache);
    case OSSL_OP_STORE:
        return ctx.blocked("store") ? nullptr : family(&store_algorithms);
    case OSSL_OP_ENCODER:
        return ctx.blocked("encoder") ? nullptr : family(&encoder_algorithms);
    case OSSL_OP_DECODER:
        return ctx.blocked("decoder") ? nullptr : family(&decoder_algorithms);
    default:
        return nullptr;
    }
}

const OSSL_ITEM* prov_get_reason_strings(void* /*provctx*/) noexcept {
    return reason_strings();
}

void prov_teardown(void* provctx) noexcept {
    guard<int>(0, [&] {
        delete ProviderHandle::from(provctx);
        return 1;
    });
}

int init(const OSSL_CORE_HANDLE* handle, const OSSL_DISPATCH* in, const OSSL_DISPATCH** out,
         void** provctx) {
    const CoreFunctions core_fns = CoreFunctions::capture(handle, in);
    set_core(core_fns);

    auto config = parse_config(read_provider_section(core_fns));
    if (!config) {
        core_fns.raise(config.error());
        return 0;
    }
    auto ctx = ops::ProviderContext::create(std::move(config).value(), handle, in);
    if (!ctx) {
        core_fns.raise(ctx.error());
        return 0;
    }
    // Here, in the process that loads the provider and before a host forks its workers,
    // so that every worker counts into the same shared table. Without it the provider
    // still works; the pkcs11-metrics parameter then says why it has no metrics.
    (void)start_metrics();
    static const OSSL_DISPATCH kTable[] = {
        slot<OSSL_FUNC_provider_gettable_params_fn*>(OSSL_FUNC_PROVIDER_GETTABLE_PARAMS,
                                                     &prov_gettable_params),
        slot<OSSL_FUNC_provider_get_params_fn*>(OSSL_FUNC_PROVIDER_GET_PARAMS, &prov_get_params),
        slot<OSSL_FUNC_provider_query_operation_fn*>(OSSL_FUNC_PROVIDER_QUERY_OPERATION,
                                                     &prov_query_operation),
        slot<OSSL_FUNC_provider_get_reason_strings_fn*>(OSSL_FUNC_PROVIDER_GET_REASON_STRINGS,
                                                        &prov_get_reason_strings),
        slot<OSSL_FUNC_provider_teardown_fn*>(OSSL_FUNC_PROVIDER_TEARDOWN, &prov_teardown),
        {0, nullptr},
    };
    *provctx = new ProviderHandle(std::move(ctx).value());
    *out = kTable;
    return 1;
}

} // namespace
} // namespace hsmp::abi

extern "C" __attribute__((visibility("default"))) int
OSSL_provider_init(const OSSL_CORE_HANDLE* handle, const OSSL_DISPATCH* in,
                   const OSSL_DISPATCH** out, void** provctx) noexcept {
    return hsmp::abi::guard<int>(0, [&] { return hsmp::abi::init(handle, in, out, provctx); });
}
