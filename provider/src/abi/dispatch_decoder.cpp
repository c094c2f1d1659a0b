// decoder thunks and tables (provider-decoder(7)) for key-reference PEM files. See
// ops/decoder.hpp for the two stages. How OpenSSL 3.0 reaches them:
//  - file: store (openssl pkey -in key.pem): the store's decoder chain adds every decoder
//    that outputs "DER", so stage 1 ("DER", input=pem) runs on the file. Its output (DER,
//    structure pk11-uri) goes to the store's constructor, which decodes DER into a key with
//    a fresh OSSL_DECODER_CTX_new_for_pkey(input "DER"); that context holds every decoder
//    named after a key type, so stage 2 runs and returns a key reference.
//  - PEM_read_bio_PrivateKey and OSSL_DECODER_CTX_new_for_pkey(input "PEM"): stage 1 then
//    stage 2 in one chain, stage 2 selected by the data structure "pk11-uri".
// In both, OpenSSL loads the reference with this provider's keymgmt (same provider as the
// decoder), so key data never leaves.
#include "abi/algorithms.hpp"
#include "abi/barrier.hpp"
#include "abi/dispatch.hpp"
#include "abi/keydata.hpp"
#include "ops/decoder.hpp"
#include "ops/keymgmt.hpp"
#include "ops/passphrase.hpp"
#include "ops/uri_pem.hpp"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/params.h>

#include <array>
#include <cstring>

namespace hsmp::abi {
namespace {

using ops::KeyKind;

/// The decoder context: only the provider it belongs to.
using DecoderCtx = Handle<void*, 0x44454331U>; // "DEC1"

ops::ProviderContext* provider_of(void* ctx) {
    auto* h = DecoderCtx::from(ctx);
    auto* prov = h != nullptr ? ProviderHandle::from(h->value) : nullptr;
    return prov != nullptr ? prov->value.get() : nullptr;
}

void* dec_newctx(void* provctx) noexcept {
    return guard<void*>(nullptr, [&]() -> void* {
        if (ProviderHandle::from(provctx) == nullptr) {
            return nullptr;
        }
        return new DecoderCtx(provctx);
    });
}

void dec_freectx(void* ctx) noexcept {
    delete DecoderCtx::from(ctx);
}

// Decoders return 1 to let OpenSSL carry on with other decoders and 0 only for a fatal
// error, which ends the whole decoding attempt with that error.

// Stage 1: PEM -> DER when the PEM block is a key reference.
int pem_decode(void* ctx, OSSL_CORE_BIO* in, int /*selection*/, OSSL_CALLBACK* data_cb,
               void* data_cbarg, OSSL_PASSPHRASE_CALLBACK* pw_cb, void* pw_cbarg) noexcept {
    return guard<int>(0, [&] {
        ops::ProviderContext* prov = provider_of(ctx);
        if (prov == nullptr) {
            return 0;
        }
        auto der = ops::read_key_reference_pem(*prov, in);
        if (!der) {
            core().raise(der.error());
            return 0;
        }
        if (!der->has_value()) {
            return 1;
        }
        std::vector<std::uint8_t>& bytes = der->value();
        if (auto checked =
                ops::check_key_reference(*prov, bytes, ops::pin_callback(pw_cb, pw_cbarg));
            !checked) {
            core().raise(checked.error());
            return 0;
        }
        const std::string_view structure = ops::uri_pem::kDerStructure;
        const OSSL_PARAM params[] = {
            OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_DATA, bytes.data(), bytes.size()),
            OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_STRUCTURE,
                                             const_cast<char*>(structure.data()), structure.size()),
            OSSL_PARAM_construct_end(),
        };
        return data_cb(params, data_cbarg);
    });
}

template <KeyKind Kind> struct KeyDecoder {
    // Stage 2: key-reference DER -> a reference to the token key, if it is a Kind key.
    static int der_decode(void* ctx, OSSL_CORE_BIO* in, int /*selection*/, OSSL_CALLBACK* data_cb,
                          void* data_cbarg, OSSL_PASSPHRASE_CALLBACK* pw_cb,
                          void* pw_cbarg) noexcept {
        return guard<int>(0, [&] {
            ops::ProviderContext* prov = provider_of(ctx);
            if (prov == nullptr) {
                return 0;
            }
            // A key-reference DER is a few hundred bytes; anything much larger is not one.
            auto der = ops::read_all(*prov, in, 4 * ops::uri_pem::kMaxUriLength);
            if (!der) {
                return 1;
            }
            auto decoded = ops::decode_key_reference(*prov, der.value(), Kind,
                                                     ops::pin_callback(pw_cb, pw_cbarg));
            if (!decoded) {
                core().raise(decoded.error());
                return 0;
            }
            if (decoded->status != ops::DecodedKey::Status::Loaded) {
                return 1;
            }
            int type = OSSL_OBJECT_PKEY;
            KeyReference ref;
            ref.key = decoded->key;
            KeyReference* ref_ptr = &ref;
            const std::string_view data_type = ops::key_kind_name(Kind);
            const OSSL_PARAM params[] = {
                OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &type),
                OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE,
                                                 const_cast<char*>(data_type.data()),
                                                 data_type.size()),
                OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_REFERENCE, &ref_ptr,
                                                  sizeof ref_ptr),
                OSSL_PARAM_construct_end(),
            };
            return data_cb(params, data_cbarg);
        });
    }

    // Called by OpenSSL only if the keymgmt it chose is another provider's. A token private
    // key cannot move there; refuse clearly instead of handing over a public-only copy.
    static int der_export_object(void* ctx, const void* objref, size_t objref_sz,
                                 OSSL_CALLBACK* /*export_cb*/, void* /*export_cbarg*/) noexcept {
        return guard<int>(0, [&] {
            if (provider_of(ctx) == nullptr || objref == nullptr ||
                objref_sz != sizeof(KeyReference*)) {
                return 0;
            }
            KeyReference* ref = nullptr;
            std::memcpy(static_cast<void*>(&ref), objref, sizeof ref);
            if (ref == nullptr || ref->magic != KeyReference::kMagic || !ref->key) {
                return 0;
            }
            core().raise(Error(Code::Unsupported,
                               "private key material cannot be exported: " + ref->key->describe() +
                                   " can only be used through the pkcs11 provider's keymgmt"));
            return 0;
        });
    }

    static const OSSL_DISPATCH* table() noexcept {
        static const OSSL_DISPATCH kTable[] = {
            slot<OSSL_FUNC_decoder_newctx_fn*>(OSSL_FUNC_DECODER_NEWCTX, &dec_newctx),
            slot<OSSL_FUNC_decoder_freectx_fn*>(OSSL_FUNC_DECODER_FREECTX, &dec_freectx),
            slot<OSSL_FUNC_decoder_decode_fn*>(OSSL_FUNC_DECODER_DECODE, &der_decode),
            slot<OSSL_FUNC_decoder_export_object_fn*>(OSSL_FUNC_DECODER_EXPORT_OBJECT,
                                                      &der_export_object),
            {0, nullptr},
        };
        return kTable;
    }
};

const OSSL_DISPATCH* pem_table() noexcept {
    static const OSSL_DISPATCH kTable[] = {
        slot<OSSL_FUNC_decoder_newctx_fn*>(OSSL_FUNC_DECODER_NEWCTX, &dec_newctx),
        slot<OSSL_FUNC_decoder_freectx_fn*>(OSSL_FUNC_DECODER_FREECTX, &dec_freectx),
        slot<OSSL_FUNC_decoder_decode_fn*>(OSSL_FUNC_DECODER_DECODE, &pem_decode),
        {0, nullptr},
    };
    return kTable;
}

// "structure=pk11-uri": the name latchset/pkcs11-provider gives the same DER, so a chain
// mixing both providers' stages still connects.
constexpr const char* kDerProps = "provider=pkcs11,input=der,structure=pk11-uri";

} // namespace

const OSSL_ALGORITHM* decoder_algorithms() noexcept {
    static const OSSL_ALGORITHM kAlgorithms[] = {
        {"DER", "provider=pkcs11,input=pem", pem_table(),
         "PKCS#11 PROVIDER URI PEM to DER (key-reference files)"},
        {"RSA:rsaEncryption:1.2.840.113549.1.1.1", kDerProps, KeyDecoder<KeyKind::Rsa>::table(),
         "key-reference DER to a PKCS#11 RSA key"},
        {"RSA-PSS:RSASSA-PSS:1.2.840.113549.1.1.10", kDerProps,
         KeyDecoder<KeyKind::RsaPss>::table(), "key-reference DER to a PKCS#11 RSA-PSS key"},
        {"EC:id-ecPublicKey:1.2.840.10045.2.1", kDerProps, KeyDecoder<KeyKind::Ec>::table(),
         "key-reference DER to a PKCS#11 EC key"},
        {"ED25519:1.3.101.112", kDerProps, KeyDecoder<KeyKind::Ed25519>::table(),
         "key-reference DER to a PKCS#11 Ed25519 key"},
        {"ED448:1.3.101.113", kDerProps, KeyDecoder<KeyKind::Ed448>::table(),
         "key-reference DER to a PKCS#11 Ed448 key"},
        {nullptr, nullptr, nullptr, nullptr},
    };
    return kAlgorithms;
}

} // namespace hsmp::abi
