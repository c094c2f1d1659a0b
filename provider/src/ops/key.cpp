#include "ops/key.hpp"

#include "pkcs11/observe.hpp"

#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include <algorithm>
#include <utility>
#include <vector>

namespace hsmp::ops {

namespace {

using Bytes = std::vector<std::uint8_t>;

struct PkeyCtxFree {
    void operator()(EVP_PKEY_CTX* c) const noexcept { EVP_PKEY_CTX_free(c); }
};
struct BldFree {
    void operator()(OSSL_PARAM_BLD* b) const noexcept { OSSL_PARAM_BLD_free(b); }
};
struct ParamFree {
    void operator()(OSSL_PARAM* p) const noexcept { OSSL_PARAM_free(p); }
};
struct BnFree {
    void operator()(BIGNUM* b) const noexcept { BN_free(b); }
};

Result<EVP_PKEY*> pkey_from_params(OSSL_LIB_CTX* libctx, const char* type, const OSSL_PARAM* params,
                                   const std::string& what) {
    std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> pctx(
        EVP_PKEY_CTX_new_from_name(libctx, type, nullptr));
    EVP_PKEY* pkey = nullptr;
    if (!pctx || EVP_PKEY_fromdata_init(pctx.get()) <= 0 ||
        EVP_PKEY_fromdata(pctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY,
                          const_cast<OSSL_PARAM*>(params)) <= 0) {
        return Error(Code::Internal, "the public parts of " + what + " do not form a valid " +
                                         type + " public key");
    }
    return pkey;
}

// CKA_EC_PARAMS: a DER OBJECT IDENTIFIER (named curve) or, for EdDSA on some tokens
// (SoftHSM2 2.6), a PrintableString "edwards25519" / "edwards448".
struct CurveInfo {
    KeyKind kind;
    std::string group; // OpenSSL group name for EC
};

Result<CurveInfo> curve_of(const Bytes& params, const std::string& what) {
    if (!params.empty() && params[0] == 0x06) {
        const unsigned char* p = params.data();
        ASN1_OBJECT* oid = d2i_ASN1_OBJECT(nullptr, &p, static_cast<long>(params.size()));
        if (oid != nullptr) {
            const int nid = OBJ_obj2nid(oid);
            ASN1_OBJECT_free(oid);
            if (nid == NID_ED25519) {
                return CurveInfo{KeyKind::Ed25519, {}};
            }
            if (nid == NID_ED448) {
                return CurveInfo{KeyKind::Ed448, {}};
            }
            if (nid != NID_undef) {
                return CurveInfo{KeyKind::Ec, OBJ_nid2sn(nid)};
            }
        }
    }
    if (params.size() > 2 && params[0] == 0x13) {
        const std::string name(params.begin() + 2, params.end());
        if (name == "edwards25519" || name == "ed25519") {
            return CurveInfo{KeyKind::Ed25519, {}};
        }
        if (name == "edwards448" || name == "ed448") {
            return CurveInfo{KeyKind::Ed448, {}};
        }
    }
    return Error(Code::Unsupported, what + " uses a curve this provider does not know "
                                           "(CKA_EC_PARAMS is neither a named-curve OID nor "
                                           "an EdDSA curve name)");
}

// CKA_EC_POINT: DER OCTET STRING holding the point (the specification) or, on some
// tokens, the bare point.
Bytes unwrap_point(const Bytes& point) {
    if (point.size() > 2 && point[0] == 0x04) {
        const unsigned char* p = point.data();
        ASN1_OCTET_STRING* os = d2i_ASN1_OCTET_STRING(nullptr, &p, static_cast<long>(point.size()));
        if (os != nullptr) {
            const bool whole = p == point.data() + point.size();
            Bytes inner(os->data, os->data + os->length);
            ASN1_OCTET_STRING_free(os);
            if (whole) {
                return inner;
            }
        }
    }
    return point;
}

// Reads attributes of `obj` on a pooled session.
Result<Bytes> attribute(p11::Object& obj, CK_ATTRIBUTE_TYPE type) {
    return obj.token()->with_session([&](p11::SessionLease& s) -> Result<Bytes> {
        auto h = obj.handle(s);
        if (!h) {
            return h.error();
        }
        return p11::read_attribute(s, h.value(), type);
    });
}

// The token's public-key object that belongs to a private key: same CKA_ID (or label).
std::shared_ptr<p11::Object> public_half(const p11::Object& priv) {
    uri::Uri u;
    const auto& t = priv.token()->identity();
    u.token = t.label;
    u.serial = t.serial;
    if (!priv.identity().id.empty()) {
        u.id = priv.identity().id;
    } else if (priv.identity().label) {
        u.object = priv.identity().label;
    } else {
        return nullptr;
    }
    auto found = p11::find_objects(priv.token(), u, CKO_PUBLIC_KEY, 2);
    if (found && found->size() == 1) {
        return found->front();
    }
    return nullptr;
}

// The EC point from the certificate with the same CKA_ID, for tokens without public objects.
Result<Bytes> point_from_certificate(const p11::Object& priv) {
    uri::Uri u;
    u.token = priv.token()->identity().label;
    u.serial = priv.token()->identity().serial;
    u.id = priv.identity().id;
    auto found = p11::find_objects(priv.token(), u, CKO_CERTIFICATE, 2);
    if (!found || found->size() != 1) {
        return Error(Code::NotFound, "no public key or certificate with the CKA_ID of " +
                                         priv.describe() + " holds its public point");
    }
    auto der = attribute(*found->front(), CKA_VALUE);
    if (!der) {
        return der.error();
    }
    const unsigned char* p = der->data();
    X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der->size()));
    if (cert == nullptr) {
        return Error(Code::Internal, "the certificate of " + priv.describe() + " is not DER");
    }
    const ASN1_BIT_STRING* bits = X509_get0_pubkey_bitstr(cert);
    Bytes point(bits->data, bits->data + bits->length);
    X509_free(cert);
    return point;
}

Result<EVP_PKEY*> build_public(ProviderContext& ctx, p11::Object& key_obj,
                               p11::Object* point_source, KeyKind& kind_out) {
    const std::string what = key_obj.describe();
    if (key_obj.key_type() == CKK_RSA) {
        p11::Object& src = point_source != nullptr ? *point_source : key_obj;
        auto n = attribute(key_obj, CKA_MODULUS);
        if (!n) {
            n = attribute(src, CKA_MODULUS);
        }
        auto e = attribute(key_obj, CKA_PUBLIC_EXPONENT);
        if (!e) {
            e = attribute(src, CKA_PUBLIC_EXPONENT);
        }
        if (!n || !e) {
            return (!n ? n.error() : e.error()).with_context("reading the public parts of " + what);
        }
        std::unique_ptr<BIGNUM, BnFree> bn_n(
            BN_bin2bn(n->data(), static_cast<int>(n->size()), nullptr));
        std::unique_ptr<BIGNUM, BnFree> bn_e(
            BN_bin2bn(e->data(), static_cast<int>(e->size()), nullptr));
        std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
        if (!bn_n || !bn_e || !bld ||
            OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) == 0 ||
            OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) == 0) {
            return Error(Code::Internal, "out of memory building " + what);
        }
        std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
        kind_out = KeyKind::Rsa;
        return pkey_from_params(ctx.software_libctx(), "RSA", params.get(), what);
    }
    if (key_obj.key_type() == CKK_EC || key_obj.key_type() == CKK_EC_EDWARDS) {
        auto ec_params = attribute(key_obj, CKA_EC_PARAMS);
        if (!ec_params) {
            return ec_params.error().with_context("reading the curve of " + what);
        }
        auto curve = curve_of(ec_params.value(), what);
        if (!curve) {
            return curve.error();
        }
        Result<Bytes> point = Error(Code::NotFound, "no public point");
        if (key_obj.object_class() == CKO_PUBLIC_KEY) {
            point = attribute(key_obj, CKA_EC_POINT);
        } else if (point_source != nullptr) {
            point = attribute(*point_source, CKA_EC_POINT);
        }
        if (!point) {
            point = point_from_certificate(key_obj);
        }
        if (!point) {
            return point.error();
        }
        Bytes raw = unwrap_point(point.value());
        kind_out = curve->kind;
        if (curve->kind == KeyKind::Ec) {
            OSSL_PARAM params[] = {
                OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, curve->group.data(),
                                                 0),
                OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, raw.data(), raw.size()),
                OSSL_PARAM_construct_end(),
            };
            return pkey_from_params(ctx.software_libctx(), "EC", params, what);
        }
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, raw.data(), raw.size()),
            OSSL_PARAM_construct_end(),
        };
        return pkey_from_params(ctx.software_libctx(),
                                curve->kind == KeyKind::Ed25519 ? "ED25519" : "ED448", params,
                                what);
    }
    return Error(Code::Unsupported,
                 what + " is a key type this provider does not support (RSA, EC and EdDSA are)");
}

} // namespace

std::string_view key_kind_name(KeyKind kind) noexcept {
    switch (kind) {
    case KeyKind::Rsa:
        return "RSA";
    case KeyKind::RsaPss:
        return "RSA-PSS";
    case KeyKind::Ec:
        return "EC";
    case KeyKind::Ed25519:
        return "ED25519";
    case KeyKind::Ed448:
        return "ED448";
    }
    return "UNKNOWN";
}

Family key_family(KeyKind kind) noexcept {
    switch (kind) {
    case KeyKind::Rsa:
        return Family::Rsa;
    case KeyKind::RsaPss:
        return Family::RsaPss;
    case KeyKind::Ec:
        return Family::Ec;
    case KeyKind::Ed25519:
    case KeyKind::Ed448:
        break;
    }
    return Family::EdDsa;
}

Result<void> require_offered(ProviderContext& ctx, Family family, const std::string& what) {
    const AlgorithmOffer* offer = ctx.algorithm_offer();
    // Null: asked from inside a token call, where no key is loaded for OpenSSL anyway.
    if (offer == nullptr || offer->offers(family)) {
        return ok();
    }
    return Error(Code::Unsupported, what + ": " + offer->not_offered_reason(family));
}

Key::Key(ProviderContext& ctx, KeyKind kind, std::shared_ptr<p11::Object> priv,
         std::shared_ptr<p11::Object> pub_obj, EVP_PKEY* pub)
    : m_ctx(&ctx), m_kind(kind), m_private(std::move(priv)), m_public_object(std::move(pub_obj)),
      m_public(pub) {
    m_description = (!m_private && !m_public_object)
                        ? "an imported " + std::string(key_kind_name(m_kind)) + " public key"
                        : uri::format_redacted(uri());
    m_private_export_refusal = "private key material cannot be exported: the private key of " +
                               m_description + " stays in the token";
    m_export_disabled_refusal =
        "exporting " + m_description + " is disabled (pkcs11-module-allow-export = 1)";
}

Key::~Key() {
    EVP_PKEY_free(m_public);
}

Result<std::shared_ptr<Key>> Key::from_token(ProviderContext& ctx,
                                             std::shared_ptr<p11::Object> private_key) {
    if (private_key->object_class() != CKO_PRIVATE_KEY) {
        return Error(Code::InvalidArgument, private_key->describe() + " is not a private key");
    }
    // A key load is reported (audit, hsm_key_loads_total) with the key's identity, whether
    // or not its public parts could be read.
    const p11::Object& object = *private_key;
    return p11::observed(obs::Operation::KeyLoad, object, 0, [&]() -> Result<std::shared_ptr<Key>> {
        std::shared_ptr<p11::Object> pub = public_half(*private_key);
        KeyKind kind = KeyKind::Rsa;
        auto pkey = build_public(ctx, *private_key, pub.get(), kind);
        if (!pkey) {
            return pkey.error();
        }
        return std::shared_ptr<Key>(new Key(ctx, kind, private_key, std::move(pub), pkey.value()));
    });
}

Result<std::shared_ptr<Key>> Key::from_token_public(ProviderContext& ctx,
                                                    std::shared_ptr<p11::Object> public_key) {
    if (public_key->object_class() != CKO_PUBLIC_KEY) {
        return Error(Code::InvalidArgument, public_key->describe() + " is not a public key");
    }
    KeyKind kind = KeyKind::Rsa;
    auto pkey = build_public(ctx, *public_key, nullptr, kind);
    if (!pkey) {
        return pkey.error();
    }
    return std::shared_ptr<Key>(new Key(ctx, kind, nullptr, std::move(public_key), pkey.value()));
}

Result<std::shared_ptr<Key>> Key::from_public(ProviderContext& ctx, KeyKind kind, EVP_PKEY* pub) {
    if (pub == nullptr || EVP_PKEY_up_ref(pub) != 1) {
        return Error(Code::Internal, "no public key to import");
    }
    return std::shared_ptr<Key>(new Key(ctx, kind, nullptr, nullptr, pub));
}

int Key::bits() const noexcept {
    return EVP_PKEY_get_bits(m_public);
}
int Key::security_bits() const noexcept {
    return EVP_PKEY_get_security_bits(m_public);
}
int Key::max_size() const noexcept {
    return EVP_PKEY_get_size(m_public);
}

std::string Key::group_name() const {
    if (m_kind != KeyKind::Ec) {
        return {};
    }
    char name[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(m_public, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name,
                                       &len) != 1) {
        return {};
    }
    return std::string(name, len);
}

uri::Uri Key::uri() const {
    if (m_private) {
        return m_private->uri();
    }
    if (m_public_object) {
        return m_public_object->uri();
    }
    return {};
}

bool Key::token_has_mechanism(CK_MECHANISM_TYPE mechanism) const {
    const p11::Object* obj = m_private ? m_private.get() : m_public_object.get();
    if (obj == nullptr) {
        return false;
    }
    std::call_once(m_mechanisms_once, [&] {
        if (auto list = obj->token()->mechanisms()) {
            m_mechanisms = std::move(list).value();
        }
    });
    return std::binary_search(m_mechanisms.begin(), m_mechanisms.end(), mechanism);
}

bool Key::same_public(const Key& other) const {
    return EVP_PKEY_eq(m_public, other.m_public) == 1;
}

} // namespace hsmp::ops
