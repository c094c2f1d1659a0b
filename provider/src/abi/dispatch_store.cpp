// store thunks and table (provider-storemgmt(7)) for the "pkcs11" URI scheme. Keys are
// handed to OpenSSL as references (OSSL_OBJECT_PARAM_REFERENCE = the bytes of a
// KeyReference*), which this provider's keymgmt load() turns into key data; certificates
// as their DER.
#include "abi/algorithms.hpp"
#include "abi/barrier.hpp"
#include "abi/dispatch.hpp"
#include "abi/keydata.hpp"
#include "ops/passphrase.hpp"
#include "ops/store.hpp"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/params.h>
#include <openssl/store.h>

#include <cstring>

namespace hsmp::abi {
namespace {

/// The loader context OpenSSL holds between open and close.
using StoreCtx = Handle<std::unique_ptr<ops::Store>, 0x53544f31U>; // "STO1"

ops::StoreExpect expect_from(int info_type) noexcept {
    switch (info_type) {
    case 0:
        return ops::StoreExpect::Any;
    case OSSL_STORE_INFO_PKEY:
        return ops::StoreExpect::PrivateKey;
    case OSSL_STORE_INFO_PUBKEY:
        return ops::StoreExpect::PublicKey;
    case OSSL_STORE_INFO_CERT:
        return ops::StoreExpect::Certificate;
    default:
        return ops::StoreExpect::Nothing;
    }
}

void* store_open(void* provctx, const char* uri) noexcept {
    return guard<void*>(nullptr, [&]() -> void* {
        auto* prov = ProviderHandle::from(provctx);
        if (prov == nullptr || uri == nullptr) {
            return nullptr;
        }
        auto store = ops::Store::open(*prov->value, uri);
        if (!store) {
            core().raise(store.error());
            return nullptr;
        }
        return new StoreCtx(std::move(store).value());
    });
}

const OSSL_PARAM* store_settable_ctx_params(void* /*provctx*/) noexcept {
    static const OSSL_PARAM kParams[] = {
        OSSL_PARAM_int(OSSL_STORE_PARAM_EXPECT, nullptr),
        OSSL_PARAM_utf8_string(OSSL_STORE_PARAM_PROPERTIES, nullptr, 0),
        OSSL_PARAM_END,
    };
    return kParams;
}

int store_set_ctx_params(void* loaderctx, const OSSL_PARAM params[]) noexcept {
    return guard<int>(0, [&] {
        auto* h = StoreCtx::from(loaderctx);
        if (h == nullptr) {
            return 0;
        }
        if (params == nullptr) {
            return 1;
        }
        const OSSL_PARAM* p = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_EXPECT);
        if (p != nullptr) {
            int expect = 0;
            if (OSSL_PARAM_get_int(p, &expect) != 1) {
                core().raise(Error(Code::InvalidArgument, "store parameter \"expect\" is not an "
                                                          "integer"));
                return 0;
            }
            h->value->expect(expect_from(expect));
        }
        p = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_PROPERTIES);
        if (p != nullptr) {
            const char* props = nullptr;
            if (OSSL_PARAM_get_utf8_string_ptr(p, &props) != 1) {
                core().raise(Error(Code::InvalidArgument, "store parameter \"properties\" is not "
                                                          "a string"));
                return 0;
            }
            h->value->set_properties(props != nullptr ? props : "");
        }
        // Search criteria (subject, issuer, alias...) are not advertised, so OpenSSL does not
        // send them; anything else unknown is ignored, as provider-storemgmt(7) allows.
        return 1;
    });
}

int pass_key(const ops::StoreObject& obj, OSSL_CALLBACK* object_cb, void* object_cbarg) {
    int type = OSSL_OBJECT_PKEY;
    KeyReference ref;
    ref.key = obj.key;
    KeyReference* ref_ptr = &ref;
    const std::string_view data_type = ops::key_kind_name(obj.key->kind());
    std::string desc = obj.description;
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &type),
        // data_type points into a string literal (key_kind_name), so it is NUL-terminated.
        OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE,
                                         const_cast<char*>(data_type.data()), data_type.size()),
        OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_REFERENCE, &ref_ptr, sizeof ref_ptr),
        OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DESC, desc.data(), desc.size()),
        OSSL_PARAM_construct_end(),
    };
    return object_cb(params, object_cbarg);
}

int pass_certificate(ops::StoreObject& obj, OSSL_CALLBACK* object_cb, void* object_cbarg) {
    int type = OSSL_OBJECT_CERT;
    static constexpr char kDataType[] = "CERTIFICATE";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &type),
        OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE, const_cast<char*>(kDataType),
                                         sizeof kDataType - 1),
        OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_DATA, obj.der.data(), obj.der.size()),
        OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DESC, obj.description.data(),
                                         obj.description.size()),
        OSSL_PARAM_construct_end(),
    };
    return object_cb(params, object_cbarg);
}

int store_load(void* loaderctx, OSSL_CALLBACK* object_cb, void* object_cbarg,
               OSSL_PASSPHRASE_CALLBACK* pw_cb, void* pw_cbarg) noexcept {
    return guard<int>(0, [&] {
        auto* h = StoreCtx::from(loaderctx);
        if (h == nullptr || object_cb == nullptr) {
            return 0;
        }
        // The passphrase callback is valid during this call only; so is the PinCallback
        // made from it, which the search uses and does not keep.
        auto next = h->value->next(ops::pin_callback(pw_cb, pw_cbarg));
        if (!next) {
            core().raise(next.error());
            return 0;
        }
        if (!next->has_value()) {
            return 0; // eof() is true now
        }
        ops::StoreObject& obj = next->value();
        if (obj.kind == ops::StoreObject::Kind::Certificate) {
            return pass_certificate(obj, object_cb, object_cbarg);
        }
        return pass_key(obj, object_cb, object_cbarg);
    });
}

int store_eof(void* loaderctx) noexcept {
    auto* h = StoreCtx::from(loaderctx);
    return h == nullptr || h->value->eof() ? 1 : 0;
}

int store_close(void* loaderctx) noexcept {
    delete StoreCtx::from(loaderctx);
    return 1;
}

// OpenSSL 3.0 (ossl_store_handle_load_result, try_key_ref) fetches a keymgmt for a key
// reference without asking for this provider; when it gets another provider's keymgmt (the
// default provider's, usually) it calls this to copy the key over, and only if that yields
// nothing does it fall back to this provider's keymgmt load(). Token keys are never copied,
// public ones included: a copy held by another provider forgets where the key lives, so
// its text encoding (storeutl -text, EVP_PKEY_print_public) loses the key's URI. Kept by
// our keymgmt, the key is still usable everywhere: OpenSSL exports its public parts through
// keymgmt export() when an operation runs in another provider, and our public encoders
// write the default provider's bytes. The error below is popped when the fallback works;
// it is what the application sees when the fallback cannot run (a propq that excludes
// provider=pkcs11).
int store_export_object(void* loaderctx, const void* objref, size_t objref_sz,
                        OSSL_CALLBACK* /*export_cb*/, void* /*export_cbarg*/) noexcept {
    return guard<int>(0, [&] {
        if (StoreCtx::from(loaderctx) == nullptr || objref == nullptr ||
            objref_sz != sizeof(KeyReference*)) {
            return 0;
        }
        KeyReference* ref = nullptr;
        std::memcpy(static_cast<void*>(&ref), objref, sizeof ref);
        if (ref == nullptr || ref->magic != KeyReference::kMagic || !ref->key) {
            return 0;
        }
        const ops::Key& key = *ref->key;
        core().raise(Error(Code::Unsupported,
                           key.has_private()
                               ? "private key material cannot be exported: " + key.describe() +
                                     " can only be used through the pkcs11 provider's keymgmt"
                               : key.describe() + " stays with the pkcs11 provider's keymgmt; "
                                                  "it is not copied into another provider's key"));
        return 0;
    });
}

const OSSL_DISPATCH* store_table() noexcept {
    static const OSSL_DISPATCH kTable[] = {
        slot<OSSL_FUNC_store_open_fn*>(OSSL_FUNC_STORE_OPEN, &store_open),
        slot<OSSL_FUNC_store_settable_ctx_params_fn*>(OSSL_FUNC_STORE_SETTABLE_CTX_PARAMS,
                                                      &store_settable_ctx_params),
        slot<OSSL_FUNC_store_set_ctx_params_fn*>(OSSL_FUNC_STORE_SET_CTX_PARAMS,
                                                 &store_set_ctx_params),
        slot<OSSL_FUNC_store_load_fn*>(OSSL_FUNC_STORE_LOAD, &store_load),
        slot<OSSL_FUNC_store_eof_fn*>(OSSL_FUNC_STORE_EOF, &store_eof),
        slot<OSSL_FUNC_store_close_fn*>(OSSL_FUNC_STORE_CLOSE, &store_close),
        slot<OSSL_FUNC_store_export_object_fn*>(OSSL_FUNC_STORE_EXPORT_OBJECT,
                                                &store_export_object),
        {0, nullptr},
    };
    return kTable;
}

} // namespace

const OSSL_ALGORITHM* store_algorithms() noexcept {
    static const OSSL_ALGORITHM kAlgorithms[] = {
        {"pkcs11", kProperties, store_table(), "PKCS#11 tokens, addressed by RFC 7512 URIs"},
        {nullptr, nullptr, nullptr, nullptr},
    };
    return kAlgorithms;
}

} // namespace hsmp::abi
