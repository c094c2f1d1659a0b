#include "ops/context.hpp"

#include "ops/signature_encoding.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/provider.h>

#include <cstdlib>
#include <utility>

namespace hsmp::ops {

Result<std::unique_ptr<ProviderContext>> ProviderContext::create(ProviderConfig config,
                                                                 const OSSL_CORE_HANDLE* handle,
                                                                 const OSSL_DISPATCH* core_in) {
    std::unique_ptr<ProviderContext> ctx(new ProviderContext());
    ctx->m_handle = handle;

    p11::LibraryConfig lib;
    // DESIGN.md section 2: the environment variable overrides the configured module.
    if (const char* env = std::getenv("PKCS11_PROVIDER_MODULE"); env != nullptr && *env != 0) {
        lib.module.path = env;
    } else if (config.module_path) {
        lib.module.path = *config.module_path;
    }
    lib.module.init_args = config.module_init_args;
    if (config.token_pin) {
        auto pin = p11::config_pin(*config.token_pin);
        if (pin) {
            lib.token_pin = std::move(pin).value();
        } else {
            // The provider still loads (public keys, certificates); a login reports this.
            lib.token_pin_error = pin.error();
        }
    }
    switch (config.login_behavior) {
    case LoginBehavior::Auto:
        lib.login_behavior = p11::LoginBehavior::Auto;
        break;
    case LoginBehavior::Always:
        lib.login_behavior = p11::LoginBehavior::Always;
        break;
    case LoginBehavior::Never:
        lib.login_behavior = p11::LoginBehavior::Never;
        break;
    }
    lib.token.pool.cap = config.cache_sessions;
    lib.token.cache_keys = config.cache_keys;
    lib.token.pool.wait = config.session_wait;
    ctx->m_library = std::make_unique<p11::Library>(std::move(lib));

    // Software operations run in a private library context with the default provider only.
    ctx->m_sw_libctx = OSSL_LIB_CTX_new();
    if (ctx->m_sw_libctx == nullptr) {
        return Error(Code::Internal, "cannot create the provider's software library context");
    }
    ctx->m_sw_default = OSSL_PROVIDER_load(ctx->m_sw_libctx, "default");
    if (ctx->m_sw_default == nullptr) {
        return Error(Code::Internal, "cannot load OpenSSL's default provider into the pkcs11 "
                                     "provider's software library context");
    }
    ctx->fetch_signature_digests();
    if (handle != nullptr && core_in != nullptr) {
        ctx->m_app_libctx = OSSL_LIB_CTX_new_child(handle, core_in);
    }
    ctx->m_config = std::move(config);

    if (ctx->m_config.load_behavior == LoadBehavior::Early) {
        auto module = ctx->m_library->module_for(uri::Uri{});
        if (!module) {
            return module.error().with_context("pkcs11-module-load-behavior = early");
        }
    }
    return ctx;
}

void ProviderContext::fetch_signature_digests() {
    for (const sig::DigestSpec& spec : sig::digest_specs()) {
        // A digest the software context lacks is left out quietly: signing with it then
        // fails with the usual "not available" message.
        ERR_set_mark();
        EVP_MD* md = EVP_MD_fetch(m_sw_libctx, spec.name, nullptr);
        ERR_pop_to_mark();
        if (md == nullptr) {
            continue;
        }
        Digest d{md, {}};
        EVP_MD_names_do_all(
            md,
            [](const char* name, void* names) {
                static_cast<std::vector<std::string>*>(names)->emplace_back(name);
            },
            &d.names);
        m_digests.push_back(std::move(d));
    }
}

namespace {

// OpenSSL compares algorithm names ASCII-case-insensitively (OPENSSL_strcasecmp); the
// same compare inline, without a call per candidate name.
bool same_name(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto lower = [](char c) {
            return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
        };
        if (lower(a[i]) != lower(b[i])) {
            return false;
        }
    }
    return true;
}

} // namespace

const EVP_MD* ProviderContext::signature_digest(std::string_view name) const noexcept {
    for (const Digest& d : m_digests) {
        for (const std::string& n : d.names) {
            if (same_name(n, name)) {
                return d.md;
            }
        }
    }
    return nullptr;
}

const EVP_MD* ProviderContext::signature_digest(const EVP_MD* md) const noexcept {
    const int nid = md != nullptr ? EVP_MD_get_type(md) : NID_undef;
    for (const Digest& d : m_digests) {
        if (nid != NID_undef && EVP_MD_get_type(d.md) == nid) {
            return d.md;
        }
    }
    return nullptr;
}

ProviderContext::~ProviderContext() {
    delete m_offer.load(); // NOLINT(cppcoreguidelines-owning-memory): published once, atomically
    // The library is destroyed first: it makes no module call (see SessionPool), so the
    // order only matters for the software context.
    m_library.reset();
    for (const Digest& d : m_digests) {
        EVP_MD_free(d.md);
    }
    if (m_sw_default != nullptr) {
        OSSL_PROVIDER_unload(m_sw_default);
    }
    OSSL_LIB_CTX_free(m_sw_libctx);
    OSSL_LIB_CTX_free(m_app_libctx);
}

Result<void> ProviderContext::require_default_provider() const {
    if (m_app_libctx == nullptr || OSSL_PROVIDER_available(m_app_libctx, "default") == 1 ||
        OSSL_PROVIDER_available(m_app_libctx, "fips") == 1) {
        return ok();
    }
    return Error(Code::InvalidArgument,
                 "the pkcs11 provider needs OpenSSL's default provider loaded as well "
                 "(add -provider default after -provider pkcs11, or activate default in "
                 "openssl.cnf)");
}

namespace {

// Set while this thread asks the tokens for the offer: a module that calls libcrypto while
// it loads (library constructors run outside any C_* call) could make OpenSSL ask again.
// Plain bool: trivially destructible, so safe if the provider is dlclose'd.
thread_local bool t_surveying = false;

} // namespace

const AlgorithmOffer* ProviderContext::algorithm_offer() {
    if (const AlgorithmOffer* known = m_offer.load(std::memory_order_acquire)) {
        return known;
    }
    if (t_surveying || p11::in_module_call()) {
        return nullptr;
    }
    // Cleared however the survey ends (it may throw std::bad_alloc to the barrier).
    struct Surveying {
        Surveying() noexcept { t_surveying = true; }
        ~Surveying() { t_surveying = false; }
        Surveying(const Surveying&) = delete;
        Surveying& operator=(const Surveying&) = delete;
        Surveying(Surveying&&) = delete;
        Surveying& operator=(Surveying&&) = delete;
    } const surveying;
    auto survey = m_library->mechanisms_with(CKF_SIGN, AlgorithmOffer::candidates());
    auto offer = std::make_unique<AlgorithmOffer>(
        survey ? AlgorithmOffer::from_mechanisms(
                     survey->mechanisms, "the " + std::to_string(survey->tokens) +
                                             " token(s) of module \"" + survey->module + "\"")
               : AlgorithmOffer::everything("the configured module could not be asked: " +
                                            survey.error().message()));
    const AlgorithmOffer* expected = nullptr;
    if (m_offer.compare_exchange_strong(expected, offer.get(), std::memory_order_acq_rel)) {
        return offer.release();
    }
    return expected; // another thread answered first; ours is dropped
}

bool ProviderContext::blocked(std::string_view operation) const {
    return m_config.blocked_operations.count(std::string(operation)) != 0;
}

} // namespace hsmp::ops
