// Signature thunks and tables (provider-signature(7)) for RSA, RSA-PSS, ECDSA and EdDSA token
// keys. Names are the default provider's (`openssl list -signature-algorithms`), for callers
// that fetch them; a key this provider loaded is sent here by a name only this provider
// offers, which its keymgmt reports (abi/algorithms.hpp says why).
#include "abi/algorithms.hpp"
#include "abi/barrier.hpp"
#include "abi/dispatch.hpp"
#include "abi/keydata.hpp"
#include "ops/signature.hpp"

#include <openssl/core_dispatch.h>

namespace hsmp::abi {
namespace {

using ops::SigAlgorithm;
using ops::SignatureContext;
using SigCtx = Handle<std::unique_ptr<SignatureContext>, 0x53494731U>; // "SIG1"

SignatureContext* sig_of(void* ctx) {
    auto* h = SigCtx::from(ctx);
    return h != nullptr ? h->value.get() : nullptr;
}

std::shared_ptr<ops::Key> key_from(void* keydata) {
    auto* h = KeyData::from(keydata);
    return h != nullptr ? h->value : nullptr;
}

Error no_context() {
    return Error(Code::InvalidArgument, "not a signature context of this provider");
}

// Runs `op(SignatureContext&)` returning Result<void>: 1 on success, the error raised and 0
// otherwise (also for a context that is not ours).
template <class F> int run(void* ctx, F&& op) noexcept {
    return guard<int>(0, [&] {
        SignatureContext* s = sig_of(ctx);
        Result<void> r = s != nullptr ? op(*s) : Result<void>(no_context());
        if (!r) {
            core().raise(r.error());
            return 0;
        }
        return 1;
    });
}

// Runs a Result<bool> verification: 1 valid, 0 invalid or error (raised).
template <class F> int run_verify(void* ctx, F&& op) noexcept {
    return guard<int>(0, [&] {
        SignatureContext* s = sig_of(ctx);
        Result<bool> r = s != nullptr ? op(*s) : Result<bool>(no_context());
        if (!r) {
            core().raise(r.error());
            return 0;
        }
        return r.value() ? 1 : 0;
    });
}

template <SigAlgorithm Alg> struct Sig {
    static void* sig_newctx(void* provctx, const char* /*propq*/) noexcept {
        return guard<void*>(nullptr, [&]() -> void* {
            auto* p = ProviderHandle::from(provctx);
            if (p == nullptr) {
                return nullptr;
            }
            return new SigCtx(std::make_unique<SignatureContext>(*p->value, Alg));
        });
    }
    static void sig_freectx(void* ctx) noexcept { delete SigCtx::from(ctx); }
    static void* sig_dupctx(void* ctx) noexcept {
        return guard<void*>(nullptr, [&]() -> void* {
            SignatureContext* s = sig_of(ctx);
            if (s == nullptr) {
                return nullptr;
            }
            auto copy = s->duplicate();
            if (!copy) {
                core().raise(copy.error());
                return nullptr;
            }
            return new SigCtx(std::move(copy).value());
        });
    }
    static int sig_sign_init(void* ctx, void* key, const OSSL_PARAM params[]) noexcept {
        return run(ctx, [&](SignatureContext& s) { return s.init(key_from(key), true, params); });
    }
    static int sig_verify_init(void* ctx, void* key, const OSSL_PARAM params[]) noexcept {
        return run(ctx, [&](SignatureContext& s) { return s.init(key_from(key), false, params); });
    }
    static int sig_sign(void* ctx, unsigned char* sig, size_t* siglen, size_t sigsize,
                        const unsigned char* tbs, size_t tbslen) noexcept {
        return run(ctx,
                   [&](SignatureContext& s) { return s.sign(sig, siglen, sigsize, tbs, tbslen); });
    }
    static int sig_verify(void* ctx, const unsigned char* sig, size_t siglen,
                          const unsigned char* tbs, size_t tbslen) noexcept {
        return run_verify(ctx,
                          [&](SignatureContext& s) { return s.verify(sig, siglen, tbs, tbslen); });
    }
    static int sig_digest_sign_init(void* ctx, const char* md, void* key,
                                    const OSSL_PARAM params[]) noexcept {
        return run(ctx, [&](SignatureContext& s) {
            return s.digest_init(key_from(key), true, md, params);
        });
    }
    static int sig_digest_verify_init(void* ctx, const char* md, void* key,
                                      const OSSL_PARAM params[]) noexcept {
        return run(ctx, [&](SignatureContext& s) {
            return s.digest_init(key_from(key), false, md, params);
        });
    }
    static int sig_digest_update(void* ctx, const unsigned char* data, size_t len) noexcept {
        return run(ctx, [&](SignatureContext& s) { return s.update(data, len); });
    }
    static int sig_digest_sign_final(void* ctx, unsigned char* sig, size_t* siglen,
                                     size_t sigsize) noexcept {
        return run(ctx, [&](SignatureContext& s) { return s.sign_final(sig, siglen, sigsize); });
    }
    static int sig_digest_verify_final(void* ctx, const unsigned char* sig,
                                       size_t siglen) noexcept {
        return run_verify(ctx, [&](SignatureContext& s) { return s.verify_final(sig, siglen); });
    }
    static int sig_digest_sign(void* ctx, unsigned char* sig, size_t* siglen, size_t sigsize,
                               const unsigned char* tbs, size_t tbslen) noexcept {
        return run(ctx, [&](SignatureContext& s) {
            return s.digest_sign(sig, siglen, sigsize, tbs, tbslen);
        });
    }
    static int sig_digest_verify(void* ctx, const unsigned char* sig, size_t siglen,
                                 const unsigned char* tbs, size_t tbslen) noexcept {
        return run_verify(
            ctx, [&](SignatureContext& s) { return s.digest_verify(sig, siglen, tbs, tbslen); });
    }
    static int sig_get_ctx_params(void* ctx, OSSL_PARAM params[]) noexcept {
        return run(ctx, [&](SignatureContext& s) { return s.get_params(params); });
    }
    static const OSSL_PARAM* sig_gettable_ctx_params(void* /*ctx*/, void* /*provctx*/) noexcept {
        return SignatureContext::gettable_params(Alg);
    }
    static int sig_set_ctx_params(void* ctx, const OSSL_PARAM params[]) noexcept {
        return run(ctx, [&](SignatureContext& s) { return s.set_params(params); });
    }
    static const OSSL_PARAM* sig_settable_ctx_params(void* /*ctx*/, void* /*provctx*/) noexcept {
        return SignatureContext::settable_params(Alg);
    }

    // The running message digest's own parameters (EVP_MD_CTX_set_params on a DigestSign
    // context reaches these).
    static int sig_get_ctx_md_params(void* ctx, OSSL_PARAM params[]) noexcept {
        return run(ctx, [&](SignatureContext& s) { return s.get_md_params(params); });
    }
    static const OSSL_PARAM* sig_gettable_ctx_md_params(void* ctx) noexcept {
        SignatureContext* s = sig_of(ctx);
        return s != nullptr ? s->gettable_md_params() : nullptr;
    }
    static int sig_set_ctx_md_params(void* ctx, const OSSL_PARAM params[]) noexcept {
        return run(ctx, [&](SignatureContext& s) { return s.set_md_params(params); });
    }
    static const OSSL_PARAM* sig_settable_ctx_md_params(void* ctx) noexcept {
        SignatureContext* s = sig_of(ctx);
        return s != nullptr ? s->settable_md_params() : nullptr;
    }

#ifdef OSSL_FUNC_SIGNATURE_QUERY_KEY_TYPES
    // OpenSSL 3.4+ checks a signature the caller fetched itself (EVP_PKEY_sign_init_ex2)
    // against the key with this list; without it, it compares names, and for EC keys the
    // name our keymgmt reports is now HSMP-ECDSA, which "ECDSA" would not match.
    static const char** sig_query_key_types() noexcept {
        static const char* kRsa[] = {"RSA", "RSA-PSS", nullptr};
        static const char* kEc[] = {"EC", nullptr};
        static const char* kEd25519[] = {"ED25519", nullptr};
        static const char* kEd448[] = {"ED448", nullptr};
        switch (Alg) {
        case SigAlgorithm::Rsa:
        case SigAlgorithm::RsaPss:
            return kRsa;
        case SigAlgorithm::Ecdsa:
            return kEc;
        case SigAlgorithm::Ed25519:
            return kEd25519;
        case SigAlgorithm::Ed448:
            break;
        }
        return kEd448;
    }
#endif

    static const OSSL_DISPATCH* table() noexcept {
        static const OSSL_DISPATCH kTable[] = {
            slot<OSSL_FUNC_signature_newctx_fn*>(OSSL_FUNC_SIGNATURE_NEWCTX, &sig_newctx),
            slot<OSSL_FUNC_signature_freectx_fn*>(OSSL_FUNC_SIGNATURE_FREECTX, &sig_freectx),
            slot<OSSL_FUNC_signature_dupctx_fn*>(OSSL_FUNC_SIGNATURE_DUPCTX, &sig_dupctx),
            slot<OSSL_FUNC_signature_sign_init_fn*>(OSSL_FUNC_SIGNATURE_SIGN_INIT, &sig_sign_init),
            slot<OSSL_FUNC_signature_sign_fn*>(OSSL_FUNC_SIGNATURE_SIGN, &sig_sign),
            slot<OSSL_FUNC_signature_verify_init_fn*>(OSSL_FUNC_SIGNATURE_VERIFY_INIT,
                                                      &sig_verify_init),
            slot<OSSL_FUNC_signature_verify_fn*>(OSSL_FUNC_SIGNATURE_VERIFY, &sig_verify),
            slot<OSSL_FUNC_signature_digest_sign_init_fn*>(OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT,
                                                           &sig_digest_sign_init),
            slot<OSSL_FUNC_signature_digest_sign_update_fn*>(OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE,
                                                             &sig_digest_update),
            slot<OSSL_FUNC_signature_digest_sign_final_fn*>(OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL,
                                                            &sig_digest_sign_final),
            slot<OSSL_FUNC_signature_digest_sign_fn*>(OSSL_FUNC_SIGNATURE_DIGEST_SIGN,
                                                      &sig_digest_sign),
            slot<OSSL_FUNC_signature_digest_verify_init_fn*>(OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_INIT,
                                                             &sig_digest_verify_init),
            slot<OSSL_FUNC_signature_digest_verify_update_fn*>(
                OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_UPDATE, &sig_digest_update),
            slot<OSSL_FUNC_signature_digest_verify_final_fn*>(
                OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_FINAL, &sig_digest_verify_final),
            slot<OSSL_FUNC_signature_digest_verify_fn*>(OSSL_FUNC_SIGNATURE_DIGEST_VERIFY,
                                                        &sig_digest_verify),
            slot<OSSL_FUNC_signature_get_ctx_params_fn*>(OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS,
                                                         &sig_get_ctx_params),
            slot<OSSL_FUNC_signature_gettable_ctx_params_fn*>(
                OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, &sig_gettable_ctx_params),
            slot<OSSL_FUNC_signature_set_ctx_params_fn*>(OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS,
                                                         &sig_set_ctx_params),
            slot<OSSL_FUNC_signature_settable_ctx_params_fn*>(
                OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS, &sig_settable_ctx_params),
            slot<OSSL_FUNC_signature_get_ctx_md_params_fn*>(OSSL_FUNC_SIGNATURE_GET_CTX_MD_PARAMS,
                                                            &sig_get_ctx_md_params),
            slot<OSSL_FUNC_signature_gettable_ctx_md_params_fn*>(
                OSSL_FUNC_SIGNATURE_GETTABLE_CTX_MD_PARAMS, &sig_gettable_ctx_md_params),
            slot<OSSL_FUNC_signature_set_ctx_md_params_fn*>(OSSL_FUNC_SIGNATURE_SET_CTX_MD_PARAMS,
                                                            &sig_set_ctx_md_params),
            slot<OSSL_FUNC_signature_settable_ctx_md_params_fn*>(
                OSSL_FUNC_SIGNATURE_SETTABLE_CTX_MD_PARAMS, &sig_settable_ctx_md_params),
#ifdef OSSL_FUNC_SIGNATURE_QUERY_KEY_TYPES
            slot<OSSL_FUNC_signature_query_key_types_fn*>(OSSL_FUNC_SIGNATURE_QUERY_KEY_TYPES,
                                                          &sig_query_key_types),
#endif
            {0, nullptr},
        };
        return kTable;
    }
};

} // namespace

const OSSL_ALGORITHM* signature_algorithms(ops::FamilySet offered) noexcept {
    using ops::Family;
    static const auto kTables = family_tables(std::array<FamilyAlgorithm, 9>{{
        {Family::Rsa,
         {"RSA:rsaEncryption:1.2.840.113549.1.1.1", kProperties, Sig<SigAlgorithm::Rsa>::table(),
          "RSA PKCS#1 v1.5 and PSS signatures in a PKCS#11 token"}},
        // OpenSSL 3.0 sends RSA-PSS keys to "RSA" (keymgmt query_operation_name); the name
        // is offered too for callers that fetch it, and signs with PSS only.
        {Family::RsaPss,
         {"RSA-PSS:RSASSA-PSS:1.2.840.113549.1.1.10", kProperties,
          Sig<SigAlgorithm::RsaPss>::table(), "RSA-PSS signatures in a PKCS#11 token"}},
        {Family::Ec,
         {"ECDSA", kProperties, Sig<SigAlgorithm::Ecdsa>::table(),
          "ECDSA signatures in a PKCS#11 token"}},
        {Family::EdDsa,
         {"ED25519:1.3.101.112", kProperties, Sig<SigAlgorithm::Ed25519>::table(),
          "Ed25519 signatures in a PKCS#11 token"}},
        {Family::EdDsa,
         {"ED448:1.3.101.113", kProperties, Sig<SigAlgorithm::Ed448>::table(),
          "Ed448 signatures in a PKCS#11 token"}},
        // The names this provider's keymgmt gives for its keys (abi/algorithms.hpp): the
        // same implementations, under names no other provider offers. RSA-PSS keys use the
        // RSA one; a token that offers RSA-PSS offers RSA too (ops/offer.cpp).
        {Family::Rsa,
         {kRsaSignatureOwnName, kProperties, Sig<SigAlgorithm::Rsa>::table(),
          "RSA signatures with this provider's token keys"}},
        {Family::Ec,
         {kEcdsaSignatureOwnName, kProperties, Sig<SigAlgorithm::Ecdsa>::table(),
          "ECDSA signatures with this provider's token keys"}},
        {Family::EdDsa,
         {kEd25519SignatureOwnName, kProperties, Sig<SigAlgorithm::Ed25519>::table(),
          "Ed25519 signatures with this provider's token keys"}},
        {Family::EdDsa,
         {kEd448SignatureOwnName, kProperties, Sig<SigAlgorithm::Ed448>::table(),
          "Ed448 signatures with this provider's token keys"}},
    }});
    return kTables.at(offered.index()).data();
}

} // namespace hsmp::abi
