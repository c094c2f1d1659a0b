// The key data OpenSSL holds for this provider's keys (keymgmt "keydata"), shared by the
// keymgmt, signature, store, encoder and decoder dispatch code.
#pragma once

#include "abi/handle.hpp"
#include "ops/key.hpp"

#include <memory>

namespace hsmp::abi {

/// keydata: a reference-counted ops::Key. Null `value` = an empty key (keymgmt new), filled
/// by import; `provctx` is the provider context it was made for.
struct KeyData : Handle<std::shared_ptr<ops::Key>, 0x4b455931U> { // "KEY1"
    using Handle::Handle;
    void* provctx = nullptr;

    static KeyData* from(void* p) noexcept {
        auto* h = static_cast<KeyData*>(p);
        return (h != nullptr && h->magic == kMagic) ? h : nullptr;
    }
    static const KeyData* from(const void* p) noexcept {
        const auto* h = static_cast<const KeyData*>(p);
        return (h != nullptr && h->magic == kMagic) ? h : nullptr;
    }
};

/// The object reference a store or decoder passes to keymgmt_load
/// (OSSL_OBJECT_PARAM_REFERENCE): the bytes of a `KeyReference*`, valid during the callback.
struct KeyReference {
    std::uint32_t magic = kMagic;
    std::shared_ptr<ops::Key> key;
    static constexpr std::uint32_t kMagic = 0x52454631U; // "REF1"
};

/// The provider context behind OpenSSL's provctx pointer.
using ProviderHandle = Handle<std::unique_ptr<ops::ProviderContext>, 0x50525631U>; // "PRV1"

} // namespace hsmp::abi
