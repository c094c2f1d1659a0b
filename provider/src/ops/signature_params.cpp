// SignatureContext's parameters (provider-signature(7) "Signature Parameters"): digest,
// RSA padding, PSS salt length and MGF1 digest in; AlgorithmIdentifier and the same settings
// out; the running message digest's own parameters passed through.
#include "ops/signature.hpp"
#include "ops/signature_encoding.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/rsa.h>

#include <string>
#include <string_view>

namespace hsmp::ops {

namespace {

using Bytes = std::vector<std::uint8_t>;

// The digests the error messages offer.
std::string digest_list() {
    std::string out;
    for (const auto& d : sig::digest_specs()) {
        out += out.empty() ? "" : ", ";
        out += d.name;
    }
    return out;
}

// A fetch that may fail without leaving the failed probe on OpenSSL's queue; the caller
// reports the failure in its own words (STYLE.md section 4).
EVP_MD* fetch_quietly(OSSL_LIB_CTX* libctx, const char* name) {
    ERR_set_mark();
    EVP_MD* md = EVP_MD_fetch(libctx, name, nullptr);
    ERR_pop_to_mark();
    return md;
}

// The provider context's digest for `name`: fetched once per context under every name
// OpenSSL has for it. A name the list lacks but OpenSSL still resolves (none known today)
// is fetched and matched by NID, so no spelling that worked before stops working.
const EVP_MD* signature_digest(const ProviderContext& ctx, const char* name) {
    if (const EVP_MD* md = ctx.signature_digest(name)) {
        return md;
    }
    EVP_MD* fetched = fetch_quietly(ctx.software_libctx(), name);
    const EVP_MD* md = ctx.signature_digest(fetched);
    EVP_MD_free(fetched);
    return md;
}

} // namespace

Result<void> SignatureContext::set_digest(const char* name) {
    if (eddsa()) {
        return Error(Code::InvalidArgument, std::string(signature_algorithm_name(m_alg)) +
                                                " hashes internally: digest " + name +
                                                " cannot be used with " + what());
    }
    if (m_digesting && m_md != nullptr) {
        // The message digest already runs (digest_sign_init chose it), as in OpenSSL's
        // own providers; naming the same digest again is harmless.
        if (EVP_MD_is_a(m_md, name)) {
            return ok();
        }
        return Error(Code::InvalidArgument, std::string("the digest of a message signature is "
                                                        "fixed when it starts: cannot switch to ") +
                                                name + " (key " + what() + ")");
    }
    const EVP_MD* md = signature_digest(*m_ctx, name);
    if (md == nullptr) {
        EVP_MD* fetched = fetch_quietly(m_ctx->software_libctx(), name);
        if (fetched == nullptr) {
            return Error(Code::Unsupported, std::string("digest \"") + name +
                                                "\" is not available for signing with " + what());
        }
        const std::string shown = EVP_MD_get0_name(fetched);
        EVP_MD_free(fetched);
        return Error(Code::Unsupported, "digest " + shown +
                                            " is not supported for signatures with " + what() +
                                            " (" + std::string(signature_algorithm_name(m_alg)) +
                                            " signatures take " + digest_list() + ")");
    }
    m_md = md;
    return ok();
}

Result<void> SignatureContext::set_params(const OSSL_PARAM params[]) {
    if (params == nullptr) {
        return ok();
    }
    if (const OSSL_PARAM* p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST)) {
        const char* name = nullptr;
        if (OSSL_PARAM_get_utf8_string_ptr(p, &name) != 1) {
            return Error(Code::InvalidArgument, "the digest parameter is not a string");
        }
        if (auto r = set_digest(name); !r) {
            return r;
        }
    }
    // OSSL_SIGNATURE_PARAM_PROPERTIES and the MGF1 properties are accepted and not used:
    // digests come from the provider's private library context, where the application's
    // property queries have no meaning.
    if (rsa()) {
        return set_rsa_params(params);
    }
    for (const char* rsa_only : {OSSL_SIGNATURE_PARAM_PAD_MODE, OSSL_SIGNATURE_PARAM_PSS_SALTLEN,
                                 OSSL_SIGNATURE_PARAM_MGF1_DIGEST}) {
        if (OSSL_PARAM_locate_const(params, rsa_only) != nullptr) {
            const std::string kind = m_key ? std::string(key_kind_name(m_key->kind())) : "this";
            return Error(Code::InvalidArgument,
                         kind + " key " + what() + " cannot make RSA signatures: parameter \"" +
                             rsa_only + "\" is for RSA padding (RSA-PSS needs an RSA key)");
        }
    }
    return ok();
}

Result<void> SignatureContext::set_rsa_params(const OSSL_PARAM params[]) {
    if (const OSSL_PARAM* p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PAD_MODE)) {
        int mode = -1;
        const char* name = nullptr;
        if (p->data_type == OSSL_PARAM_UTF8_STRING) {
            if (OSSL_PARAM_get_utf8_string_ptr(p, &name) == 1) {
                const std::string_view n = name;
                mode = n == OSSL_PKEY_RSA_PAD_MODE_PKCSV15 ? RSA_PKCS1_PADDING
                       : n == OSSL_PKEY_RSA_PAD_MODE_PSS   ? RSA_PKCS1_PSS_PADDING
                       : n == OSSL_PKEY_RSA_PAD_MODE_NONE  ? RSA_NO_PADDING
                                                           : -1;
            }
        } else if (OSSL_PARAM_get_int(p, &mode) != 1) {
            mode = -1;
        }
        if (mode == RSA_NO_PADDING) {
            // Raw RSA with a signing key computes m^d for any m the caller picks: it would
            // decrypt anything encrypted to the key, so the token key never does it.
            return Error(Code::Unsupported, "RSA padding \"none\" is refused for signatures with " +
                                                what() +
                                                ": raw RSA with a private key is a decryption "
                                                "oracle (use pkcs1 or pss)");
        }
        if (mode != RSA_PKCS1_PADDING && mode != RSA_PKCS1_PSS_PADDING) {
            // Built with append(): g++ 12 -O3 misreports the operator+ chain as an
            // overlapping memcpy (-Werror=restrict, GCC bug 105651).
            std::string shown = name != nullptr ? std::string(name) : std::to_string(mode);
            if (name != nullptr) {
                shown.insert(0, 1, '"').push_back('"');
            }
            std::string message("RSA padding mode ");
            message.append(shown).append(" is not supported for signatures with ");
            message.append(what()).append(" (pkcs1 and pss are)");
            return Error(Code::Unsupported, std::move(message));
        }
        if (mode != RSA_PKCS1_PSS_PADDING &&
            (m_alg == SigAlgorithm::RsaPss || (m_key && m_key->kind() == KeyKind::RsaPss))) {
            return Error(Code::InvalidArgument,
                         what() + " signs with RSA-PSS only: PKCS#1 v1.5 padding is not allowed");
        }
        m_pad = mode;
    }
    if (const OSSL_PARAM* p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN)) {
        if (m_pad != RSA_PKCS1_PSS_PADDING) {
            return Error(Code::InvalidArgument,
                         "a salt length applies to PSS padding only (set pad-mode pss first; "
                         "key " +
                             what() + ")");
        }
        int salt = 0;
        if (p->data_type == OSSL_PARAM_UTF8_STRING) {
            const char* text = nullptr;
            if (OSSL_PARAM_get_utf8_string_ptr(p, &text) != 1) {
                return Error(Code::InvalidArgument, "bad RSA-PSS salt length parameter");
            }
            auto parsed = sig::parse_pss_saltlen(text);
            if (!parsed) {
                return parsed.error();
            }
            salt = parsed.value();
        } else if (OSSL_PARAM_get_int(p, &salt) != 1 || salt < RSA_PSS_SALTLEN_MAX) {
            return Error(Code::InvalidArgument, "bad RSA-PSS salt length parameter");
        }
        m_saltlen = salt;
    }
    if (const OSSL_PARAM* p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST)) {
        if (m_pad != RSA_PKCS1_PSS_PADDING) {
            return Error(Code::InvalidArgument,
                         "an MGF1 digest applies to PSS padding only (set pad-mode pss first; "
                         "key " +
                             what() + ")");
        }
        const char* name = nullptr;
        if (OSSL_PARAM_get_utf8_string_ptr(p, &name) != 1) {
            return Error(Code::InvalidArgument, "the MGF1 digest parameter is not a string");
        }
        const EVP_MD* md = signature_digest(*m_ctx, name);
        if (md == nullptr) {
            return Error(Code::Unsupported, std::string("MGF1 digest \"") + name +
                                                "\" is not supported for RSA-PSS with " + what() +
                                                " (supported: " + digest_list() + ")");
        }
        m_mgf1 = md;
    }
    return ok();
}

// --- parameters ---------------------------------------------------------------------------

Result<Bytes> SignatureContext::algorithm_id() const {
    if (eddsa()) {
        return sig::algorithm_id_eddsa(m_alg == SigAlgorithm::Ed25519);
    }
    if (m_alg == SigAlgorithm::Ecdsa) {
        return sig::algorithm_id_ecdsa(m_md);
    }
    if (m_pad == RSA_PKCS1_PSS_PADDING) {
        const sig::DigestSpec* d = sig::digest_spec(m_md);
        if (d == nullptr) {
            return Error(Code::InvalidArgument, "RSA-PSS needs a digest for its identifier");
        }
        auto salt = sig::pss_salt_length(m_saltlen, d->size, m_key->bits());
        if (!salt) {
            return salt.error().with_context(what());
        }
        return sig::algorithm_id_rsa_pss(m_md, m_mgf1 != nullptr ? m_mgf1 : m_md, salt.value());
    }
    return sig::algorithm_id_rsa_pkcs1(m_md);
}

Result<void> SignatureContext::get_params(OSSL_PARAM params[]) const {
    OSSL_PARAM* p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID);
    // Without a digest (sign_init with no digest set) there is no identifier to give.
    if (p != nullptr && (m_md != nullptr || eddsa())) {
        auto der = algorithm_id();
        if (!der) {
            return der.error();
        }
        if (OSSL_PARAM_set_octet_string(p, der->data(), der->size()) != 1) {
            return Error(Code::InvalidArgument, "the algorithm-id buffer is too small");
        }
    }
    p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST);
    if (p != nullptr && m_md != nullptr &&
        OSSL_PARAM_set_utf8_string(p, EVP_MD_get0_name(m_md)) != 1) {
        return Error(Code::InvalidArgument, "digest parameter");
    }
    if (!rsa()) {
        return ok();
    }
    p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PAD_MODE);
    if (p != nullptr) {
        const char* name = m_pad == RSA_PKCS1_PSS_PADDING ? OSSL_PKEY_RSA_PAD_MODE_PSS
                                                          : OSSL_PKEY_RSA_PAD_MODE_PKCSV15;
        const int set = p->data_type == OSSL_PARAM_INTEGER ? OSSL_PARAM_set_int(p, m_pad)
                                                           : OSSL_PARAM_set_utf8_string(p, name);
        if (set != 1) {
            return Error(Code::InvalidArgument, "pad-mode parameter");
        }
    }
    p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN);
    if (p != nullptr) {
        int set = 0;
        if (p->data_type == OSSL_PARAM_INTEGER) {
            set = OSSL_PARAM_set_int(p, m_saltlen);
        } else {
            const std::string text =
                m_saltlen == RSA_PSS_SALTLEN_DIGEST ? OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST
                : m_saltlen == RSA_PSS_SALTLEN_MAX  ? OSSL_PKEY_RSA_PSS_SALT_LEN_MAX
                : m_saltlen == RSA_PSS_SALTLEN_AUTO ? OSSL_PKEY_RSA_PSS_SALT_LEN_AUTO
                                                    : std::to_string(m_saltlen);
            set = OSSL_PARAM_set_utf8_string(p, text.c_str());
        }
        if (set != 1) {
            return Error(Code::InvalidArgument, "saltlen parameter");
        }
    }
    p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST);
    const EVP_MD* mgf1 = m_mgf1 != nullptr ? m_mgf1 : m_md;
    if (p != nullptr && mgf1 != nullptr &&
        OSSL_PARAM_set_utf8_string(p, EVP_MD_get0_name(mgf1)) != 1) {
        return Error(Code::InvalidArgument, "mgf1-digest parameter");
    }
    return ok();
}

Result<void> SignatureContext::set_md_params(const OSSL_PARAM params[]) {
    if (m_mdctx == nullptr) {
        return Error(Code::InvalidArgument, "no message digest runs in this signature");
    }
    if (EVP_MD_CTX_set_params(m_mdctx, params) != 1) {
        return Error(Code::InvalidArgument, "the message digest refused the parameters");
    }
    return ok();
}

Result<void> SignatureContext::get_md_params(OSSL_PARAM params[]) const {
    if (m_mdctx == nullptr) {
        return Error(Code::InvalidArgument, "no message digest runs in this signature");
    }
    if (EVP_MD_CTX_get_params(m_mdctx, params) != 1) {
        return Error(Code::InvalidArgument, "the message digest has no such parameters");
    }
    return ok();
}

const OSSL_PARAM* SignatureContext::settable_md_params() const noexcept {
    return m_md != nullptr ? EVP_MD_settable_ctx_params(m_md) : nullptr;
}

const OSSL_PARAM* SignatureContext::gettable_md_params() const noexcept {
    return m_md != nullptr ? EVP_MD_gettable_ctx_params(m_md) : nullptr;
}

const OSSL_PARAM* SignatureContext::settable_params(SigAlgorithm alg) noexcept {
    static const OSSL_PARAM kRsa[] = {
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PROPERTIES, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_PROPERTIES, nullptr, 0),
        OSSL_PARAM_END,
    };
    static const OSSL_PARAM kEcdsa[] = {
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PROPERTIES, nullptr, 0),
        OSSL_PARAM_END,
    };
    static const OSSL_PARAM kNone[] = {OSSL_PARAM_END};
    switch (alg) {
    case SigAlgorithm::Rsa:
    case SigAlgorithm::RsaPss:
        return kRsa;
    case SigAlgorithm::Ecdsa:
        return kEcdsa;
    case SigAlgorithm::Ed25519:
    case SigAlgorithm::Ed448:
        break;
    }
    return kNone;
}

const OSSL_PARAM* SignatureContext::gettable_params(SigAlgorithm alg) noexcept {
    static const OSSL_PARAM kRsa[] = {
        OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, nullptr, 0),
        OSSL_PARAM_END,
    };
    static const OSSL_PARAM kOther[] = {
        OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, nullptr, 0),
        OSSL_PARAM_END,
    };
    return alg == SigAlgorithm::Rsa || alg == SigAlgorithm::RsaPss ? kRsa : kOther;
}

} // namespace hsmp::ops
