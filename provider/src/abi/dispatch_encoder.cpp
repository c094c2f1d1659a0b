// encoder thunks and tables (provider-encoder(7)) for this provider's keys. None offers
// import_object, so OpenSSL uses them only for keys held by this provider's keymgmt (its
// encoder collection skips foreign-provider encoders that cannot import), and software keys
// keep the default provider's encoders.
#include "abi/algorithms.hpp"
#include "abi/barrier.hpp"
#include "abi/dispatch.hpp"
#include "abi/keydata.hpp"
#include "ops/encoder.hpp"

#include <openssl/core_dispatch.h>

#include <array>

namespace hsmp::abi {
namespace {

using ops::EncoderOutput;

/// The encoder context: only the provider it belongs to; encoding has no settings.
using EncoderCtx = Handle<void*, 0x454e4331U>; // "ENC1"

template <EncoderOutput Output> struct Enc {
    static void* enc_newctx(void* provctx) noexcept {
        return guard<void*>(nullptr, [&]() -> void* {
            if (ProviderHandle::from(provctx) == nullptr) {
                return nullptr;
            }
            return new EncoderCtx(provctx);
        });
    }

    static void enc_freectx(void* ctx) noexcept { delete EncoderCtx::from(ctx); }

    static int enc_does_selection(void* /*provctx*/, int selection) noexcept {
        return ops::encoder_does_selection(Output, selection) ? 1 : 0;
    }

    static int enc_encode(void* ctx, OSSL_CORE_BIO* out, const void* obj_raw,
                          const OSSL_PARAM /*obj_abstract*/[], int selection,
                          OSSL_PASSPHRASE_CALLBACK* /*cb*/, void* /*cbarg*/) noexcept {
        return guard<int>(0, [&] {
            auto* h = EncoderCtx::from(ctx);
            auto* prov = h != nullptr ? ProviderHandle::from(h->value) : nullptr;
            const auto* kd = KeyData::from(obj_raw);
            if (prov == nullptr || kd == nullptr || !kd->value) {
                core().raise(Error(Code::InvalidArgument,
                                   "the pkcs11 encoder was given a key it does not hold"));
                return 0;
            }
            auto bytes = ops::encode_key(*kd->value, Output, selection);
            if (!bytes) {
                core().raise(bytes.error());
                return 0;
            }
            auto written = ops::write_core_bio(*prov->value, out, bytes.value());
            if (!written) {
                core().raise(written.error());
                return 0;
            }
            return 1;
        });
    }

    static const OSSL_DISPATCH* table() noexcept {
        static const OSSL_DISPATCH kTable[] = {
            slot<OSSL_FUNC_encoder_newctx_fn*>(OSSL_FUNC_ENCODER_NEWCTX, &enc_newctx),
            slot<OSSL_FUNC_encoder_freectx_fn*>(OSSL_FUNC_ENCODER_FREECTX, &enc_freectx),
            slot<OSSL_FUNC_encoder_does_selection_fn*>(OSSL_FUNC_ENCODER_DOES_SELECTION,
                                                       &enc_does_selection),
            slot<OSSL_FUNC_encoder_encode_fn*>(OSSL_FUNC_ENCODER_ENCODE, &enc_encode),
            {0, nullptr},
        };
        return kTable;
    }
};

// The names match keymgmt_algorithms(): OpenSSL picks encoders by the key type's names.
constexpr std::array<const char*, 5> kKeyNames = {
    "RSA:rsaEncryption:1.2.840.113549.1.1.1",
    "RSA-PSS:RSASSA-PSS:1.2.840.113549.1.1.10",
    "EC:id-ecPublicKey:1.2.840.10045.2.1",
    "ED25519:1.3.101.112",
    "ED448:1.3.101.113",
};

constexpr std::size_t kVariantCount = 7;

struct Variant {
    const char* properties;
    const OSSL_DISPATCH* (*table)() noexcept;
    const char* description;
};

const std::array<Variant, kVariantCount>& variants() noexcept {
    static const std::array<Variant, kVariantCount> kVariants = {{
        {"provider=pkcs11,output=der,structure=SubjectPublicKeyInfo",
         &Enc<EncoderOutput::SpkiDer>::table, "PKCS#11 token key: public key, DER SPKI"},
        {"provider=pkcs11,output=pem,structure=SubjectPublicKeyInfo",
         &Enc<EncoderOutput::SpkiPem>::table, "PKCS#11 token key: public key, PEM SPKI"},
        {"provider=pkcs11,output=text", &Enc<EncoderOutput::Text>::table,
         "PKCS#11 token key: URI and public parts as text"},
        {"provider=pkcs11,output=pem,structure=PrivateKeyInfo",
         &Enc<EncoderOutput::KeyReferencePem>::table,
         "PKCS#11 token key: key-reference PEM (PKCS#11 PROVIDER URI)"},
        {"provider=pkcs11,output=der,structure=PrivateKeyInfo",
         &Enc<EncoderOutput::DeniedPrivate>::table,
         "PKCS#11 token key: DER private key (always refused)"},
        {"provider=pkcs11,output=der,structure=type-specific",
         &Enc<EncoderOutput::DeniedPrivate>::table,
         "PKCS#11 token key: type-specific DER private key (always refused)"},
        {"provider=pkcs11,output=pem,structure=type-specific",
         &Enc<EncoderOutput::DeniedPrivate>::table,
         "PKCS#11 token key: type-specific PEM private key (always refused)"},
    }};
    return kVariants;
}

} // namespace

const OSSL_ALGORITHM* encoder_algorithms() noexcept {
    static const auto kAlgorithms = [] {
        std::array<OSSL_ALGORITHM, kKeyNames.size() * kVariantCount + 1> table{};
        std::size_t i = 0;
        for (const char* names : kKeyNames) {
            for (const Variant& v : variants()) {
                table.at(i++) = OSSL_ALGORITHM{names, v.properties, v.table(), v.description};
            }
        }
        table.at(i) = OSSL_ALGORITHM{nullptr, nullptr, nullptr, nullptr};
        return table;
    }();
    return kAlgorithms.data();
}

} // namespace hsmp::abi
