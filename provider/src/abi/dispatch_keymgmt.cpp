// keymgmt thunks and tables (provider-keymgmt(7)) for RSA, RSA-PSS, EC, ED25519, ED448.
// Each thunk recovers the typed handle, calls one ops function through the barrier and
// translates the result to OpenSSL's convention.
#include "abi/algorithms.hpp"
#include "abi/barrier.hpp"
#include "abi/dispatch.hpp"
#include "abi/keydata.hpp"
#include "ops/keymgmt.hpp"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>

#include <cstring>

namespace hsmp::abi {
namespace {

using ops::Key;
using ops::KeyKind;

ops::ProviderContext* context_of(void* provctx) {
    auto* h = ProviderHandle::from(provctx);
    return h != nullptr ? h->value.get() : nullptr;
}

const Key* key_of(const void* keydata) {
    const auto* h = KeyData::from(keydata);
    return h != nullptr ? h->value.get() : nullptr;
}

template <KeyKind Kind> struct Kmgmt {
    static void* kmgmt_new(void* provctx) noexcept {
        return guard<void*>(nullptr, [&]() -> void* {
            if (context_of(provctx) == nullptr) {
                return nullptr;
            }
            // An empty key: import() fills it. The provider context is found again there.
            auto* h = new KeyData(std::shared_ptr<Key>{});
            h->provctx = provctx;
            return h;
        });
    }

    static void kmgmt_free(void* keydata) noexcept { delete KeyData::from(keydata); }

    static void* kmgmt_load(const void* reference, size_t reference_sz) noexcept {
        return guard<void*>(nullptr, [&]() -> void* {
            if (reference == nullptr || reference_sz != sizeof(KeyReference*)) {
                return nullptr;
            }
            KeyReference* ref = nullptr;
            std::memcpy(static_cast<void*>(&ref), reference, sizeof ref);
            if (ref == nullptr || ref->magic != KeyReference::kMagic || !ref->key ||
                ref->key->kind() != Kind) {
                return nullptr;
            }
            return new KeyData(ref->key);
        });
    }

    static int kmgmt_has(const void* keydata, int selection) noexcept {
        const Key* key = key_of(keydata);
        return key != nullptr && ops::key_has(*key, selection) ? 1 : 0;
    }

    static int kmgmt_match(const void* a, const void* b, int /*selection*/) noexcept {
        return guard<int>(0, [&] {
            const Key* ka = key_of(a);
            const Key* kb = key_of(b);
            return ka != nullptr && kb != nullptr && ka->same_public(*kb) ? 1 : 0;
        });
    }

    static int kmgmt_get_params(void* keydata, OSSL_PARAM params[]) noexcept {
        return guard<int>(0, [&] {
            const Key* key = key_of(keydata);
            if (key == nullptr) {
                return 0;
            }
            auto r = ops::key_get_params(*key, params);
            if (!r) {
                core().raise(r.error());
                return 0;
            }
            return 1;
        });
    }

    static const OSSL_PARAM* kmgmt_gettable_params(void* /*provctx*/) noexcept {
        return ops::key_gettable_params(Kind);
    }

    static int kmgmt_import(void* keydata, int selection, const OSSL_PARAM params[]) noexcept {
        return guard<int>(0, [&] {
            auto* h = KeyData::from(keydata);
            ops::ProviderContext* ctx = h != nullptr ? context_of(h->provctx) : nullptr;
            if (ctx == nullptr) {
                return 0;
            }
            auto key = ops::key_import(*ctx, Kind, selection, params);
            if (!key) {
                core().raise(key.error());
                return 0;
            }
            h->value = std::move(key).value();
            return 1;
        });
    }

    static const OSSL_PARAM* kmgmt_io_types(int /*selection*/) noexcept {
        return ops::key_io_types(Kind);
    }

    static int kmgmt_export(void* keydata, int selection, OSSL_CALLBACK* cb, void* cbarg) noexcept {
        return guard<int>(0, [&] {
            const Key* key = key_of(keydata);
            if (key == nullptr) {
                return 0;
            }
            if (const std::string* why = ops::export_refusal(*key, selection)) {
                core().raise(reason_for(Code::Unsupported), why->c_str());
                return 0;
            }
            auto r = ops::key_export(*key, selection, cb, cbarg);
            if (!r) {
                core().raise(r.error());
                return 0;
            }
            return 1;
        });
    }

    static void* kmgmt_dup(const void* keydata, int /*selection*/) noexcept {
        return guard<void*>(nullptr, [&]() -> void* {
            const auto* h = KeyData::from(keydata);
            if (h == nullptr) {
                return nullptr;
            }
            auto* copy = new KeyData(h->value); // keys are immutable: share
            copy->provctx = h->provctx;
            return copy;
        });
    }

    static const char* kmgmt_query_operation_name(int operation_id) noexcept {
        if (operation_id == OSSL_OP_SIGNATURE) {
            // A name only this provider implements, so EVP goes straight to our signature
            // instead of first offering the key to another provider (abi/algorithms.hpp).
            // RSA-PSS keys sign through the RSA implementation, which keeps them PSS-only.
            switch (Kind) {
            case KeyKind::Rsa:
            case KeyKind::RsaPss:
                return kRsaSignatureOwnName;
            case KeyKind::Ec:
                return kEcdsaSignatureOwnName;
            case KeyKind::Ed25519:
                return kEd25519SignatureOwnName;
            case KeyKind::Ed448:
                return kEd448SignatureOwnName;
            }
        }
        if (Kind == KeyKind::RsaPss) {
            return "RSA";
        }
        return nullptr; // the keymgmt's own name
    }

    static const OSSL_DISPATCH* table() noexcept {
        static const OSSL_DISPATCH kTable[] = {
            slot<OSSL_FUNC_keymgmt_new_fn*>(OSSL_FUNC_KEYMGMT_NEW, &kmgmt_new),
            slot<OSSL_FUNC_keymgmt_free_fn*>(OSSL_FUNC_KEYMGMT_FREE, &kmgmt_free),
            slot<OSSL_FUNC_keymgmt_load_fn*>(OSSL_FUNC_KEYMGMT_LOAD, &kmgmt_load),
            slot<OSSL_FUNC_keymgmt_has_fn*>(OSSL_FUNC_KEYMGMT_HAS, &kmgmt_has),
            slot<OSSL_FUNC_keymgmt_match_fn*>(OSSL_FUNC_KEYMGMT_MATCH, &kmgmt_match),
            slot<OSSL_FUNC_keymgmt_get_params_fn*>(OSSL_FUNC_KEYMGMT_GET_PARAMS, &kmgmt_get_params),
            slot<OSSL_FUNC_keymgmt_gettable_params_fn*>(OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS,
                                                        &kmgmt_gettable_params),
            slot<OSSL_FUNC_keymgmt_import_fn*>(OSSL_FUNC_KEYMGMT_IMPORT, &kmgmt_import),
            slot<OSSL_FUNC_keymgmt_import_types_fn*>(OSSL_FUNC_KEYMGMT_IMPORT_TYPES,
                                                     &kmgmt_io_types),
            slot<OSSL_FUNC_keymgmt_export_fn*>(OSSL_FUNC_KEYMGMT_EXPORT, &kmgmt_export),
            slot<OSSL_FUNC_keymgmt_export_types_fn*>(OSSL_FUNC_KEYMGMT_EXPORT_TYPES,
                                                     &kmgmt_io_types),
            slot<OSSL_FUNC_keymgmt_dup_fn*>(OSSL_FUNC_KEYMGMT_DUP, &kmgmt_dup),
            slot<OSSL_FUNC_keymgmt_query_operation_name_fn*>(OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME,
                                                             &kmgmt_query_operation_name),
            {0, nullptr},
        };
        return kTable;
    }
};

} // namespace

const OSSL_ALGORITHM* keymgmt_algorithms(ops::FamilySet offered) noexcept {
    using ops::Family;
    static const auto kTables = family_tables(std::array<FamilyAlgorithm, 5>{{
        {Family::Rsa,
         {"RSA:rsaEncryption:1.2.840.113549.1.1.1", kProperties, Kmgmt<KeyKind::Rsa>::table(),
          "PKCS#11 token RSA keys"}},
        {Family::RsaPss,
         {"RSA-PSS:RSASSA-PSS:1.2.840.113549.1.1.10", kProperties, Kmgmt<KeyKind::RsaPss>::table(),
          "PKCS#11 token RSA-PSS keys"}},
        {Family::Ec,
         {"EC:id-ecPublicKey:1.2.840.10045.2.1", kProperties, Kmgmt<KeyKind::Ec>::table(),
          "PKCS#11 token EC keys"}},
        {Family::EdDsa,
         {"ED25519:1.3.101.112", kProperties, Kmgmt<KeyKind::Ed25519>::table(),
          "PKCS#11 token Ed25519 keys"}},
        {Family::EdDsa,
         {"ED448:1.3.101.113", kProperties, Kmgmt<KeyKind::Ed448>::table(),
          "PKCS#11 token Ed448 keys"}},
    }});
    return kTables.at(offered.index()).data();
}

} // namespace hsmp::abi
