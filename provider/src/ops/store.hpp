// The "pkcs11" OSSL_STORE loader (provider-storemgmt(7)) in plain C++: a URI opened once,
// searched lazily at the first load, and handed out one object per load. Keys go out as
// references to ops::Key objects (never as key material); certificates as their DER.
#pragma once

#include "common/result.hpp"
#include "ops/context.hpp"
#include "ops/key.hpp"
#include "pkcs11/object.hpp"
#include "pkcs11/pin.hpp"

#include <p11uri/uri.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hsmp::ops {

/// One object a store load hands to OpenSSL.
struct StoreObject {
    enum class Kind : std::uint8_t { PrivateKey, PublicKey, Certificate };
    Kind kind = Kind::PrivateKey;
    std::shared_ptr<Key> key;      ///< PrivateKey, PublicKey
    std::vector<std::uint8_t> der; ///< Certificate: CKA_VALUE
    std::string description;       ///< the object's redacted URI
};

/// What the application said it expects (OSSL_STORE_PARAM_EXPECT). A hint: it narrows the
/// search so that, for example, loading a certificate does not log in to the token.
enum class StoreExpect : std::uint8_t {
    Any,         ///< 0: everything the URI matches
    PrivateKey,  ///< OSSL_STORE_INFO_PKEY: private keys only (storeutl -keys, pkey -in)
    PublicKey,   ///< OSSL_STORE_INFO_PUBKEY: public keys, then private keys' public halves
    Certificate, ///< OSSL_STORE_INFO_CERT
    Nothing,     ///< parameters, CRLs, names: a token holds none of these
};

class Store {
public:
    /// Parses the URI. A malformed URI is an InvalidArgument error that quotes the parser's
    /// message (kind and offset, PIN redacted). Nothing is searched yet.
    static Result<std::unique_ptr<Store>> open(ProviderContext& ctx, std::string_view uri_text);

    /// Narrows the search; effective only before the first next().
    void expect(StoreExpect expect) noexcept { m_expect = expect; }
    void set_properties(std::string properties) { m_properties = std::move(properties); }

    /// The next object, or nullopt when every match was handed out. The first call searches
    /// the token(s), asking `pin` for a PIN only if the URI and configuration give none.
    ///
    /// Errors:
    ///  - NotFound when the URI matches nothing: eof() is true afterwards, so a listing
    ///    (storeutl) ends normally while a caller that wanted one key fails with a message
    ///    that names the URI.
    ///  - Ambiguous when the URI names an object (object= or id=), a private key is wanted,
    ///    and several private keys match: signing with an arbitrary one of them is unsafe.
    ///  - the lookup's error (token absent, wrong PIN...); eof() answers false once, so
    ///    OpenSSL records the failure, and true afterwards, so no caller loops.
    ///  - an object that cannot be used (unsupported key type...) fails that one call;
    ///    later calls go on with the remaining objects.
    Result<std::optional<StoreObject>> next(const p11::PinCallback& pin);

    /// True when nothing more will be handed out.
    [[nodiscard]] bool eof() noexcept;

    [[nodiscard]] const uri::Uri& uri() const noexcept { return m_uri; }

private:
    Store(ProviderContext& ctx, uri::Uri uri) : m_ctx(&ctx), m_uri(std::move(uri)) {}

    Result<void> search(const p11::PinCallback& pin);
    Result<StoreObject> convert(const std::shared_ptr<p11::Object>& object);
    [[nodiscard]] std::vector<CK_OBJECT_CLASS> classes_to_search() const;

    enum class State : std::uint8_t { Fresh, Listing, Done, Failed };

    ProviderContext* m_ctx;
    uri::Uri m_uri;
    StoreExpect m_expect = StoreExpect::Any;
    std::string m_properties;
    State m_state = State::Fresh;
    bool m_failure_seen = false; // eof() after a failure: false once, then true
    std::vector<std::shared_ptr<p11::Object>> m_found;
    std::size_t m_next = 0;
};

} // namespace hsmp::ops
