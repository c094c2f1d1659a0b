#include "ops/signature.hpp"

#include "pkcs11/operation.hpp"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstdint>
#include <cstring>
#include <string_view>

namespace hsmp::ops {

namespace {

using Bytes = std::vector<unsigned char>;

struct DigestNames {
    const char* name; // OpenSSL name
    CK_MECHANISM_TYPE hash;
    CK_RSA_PKCS_MGF_TYPE mgf;
};

// Digests PKCS#11 can name in CK_RSA_PKCS_PSS_PARAMS.
const DigestNames kPssDigests[] = {
    {"SHA1", CKM_SHA_1, CKG_MGF1_SHA1},      {"SHA224", CKM_SHA224, CKG_MGF1_SHA224},
    {"SHA256", CKM_SHA256, CKG_MGF1_SHA256}, {"SHA384", CKM_SHA384, CKG_MGF1_SHA384},
    {"SHA512", CKM_SHA512, CKG_MGF1_SHA512},
};

// No token is known to take a MGF1 digest different from the message digest reliably (SoftHSM2
// refuses it), so such signatures always take the encode-here path below.
constexpr CK_MECHANISM_TYPE CKM_RSA_PKCS_PSS_SEPARATE_MGF1_OK = CKM_VENDOR_DEFINED | 0x48534d50UL;

const DigestNames* pss_names(const EVP_MD* md) {
    for (const auto& d : kPssDigests) {
        if (EVP_MD_is_a(md, d.name)) {
            return &d;
        }
    }
    return nullptr;
}

const char* mechanism_name(CK_MECHANISM_TYPE m) {
    switch (m) {
    case CKM_RSA_PKCS:
        return "CKM_RSA_PKCS";
    case CKM_RSA_PKCS_PSS:
        return "CKM_RSA_PKCS_PSS";
    case CKM_RSA_X_509:
        return "CKM_RSA_X_509";
    case CKM_ECDSA:
        return "CKM_ECDSA";
    case CKM_EDDSA:
        return "CKM_EDDSA";
    default:
        return "mechanism";
    }
}

// DigestInfo ::= SEQUENCE { AlgorithmIdentifier (with NULL parameters), OCTET STRING }.
Result<Bytes> digest_info(const EVP_MD* md, const unsigned char* digest, size_t len) {
    X509_SIG* sig = X509_SIG_new();
    X509_ALGOR* alg = nullptr;
    ASN1_OCTET_STRING* octets = nullptr;
    X509_SIG_getm(sig, &alg, &octets);
    const int nid = EVP_MD_get_type(md);
    Bytes out;
    if (nid != NID_undef && X509_ALGOR_set0(alg, OBJ_nid2obj(nid), V_ASN1_NULL, nullptr) == 1 &&
        ASN1_OCTET_STRING_set(octets, digest, static_cast<int>(len)) == 1) {
        unsigned char* der = nullptr;
        const int n = i2d_X509_SIG(sig, &der);
        if (n > 0) {
            out.assign(der, der + n);
        }
        OPENSSL_free(der);
    }
    X509_SIG_free(sig);
    if (out.empty()) {
        return Error(Code::Unsupported,
                     std::string("digest ") + EVP_MD_get0_name(md) + " has no DigestInfo encoding");
    }
    return out;
}

Bytes ecdsa_raw_to_der(const Bytes& raw) {
    const size_t half = raw.size() / 2;
    ECDSA_SIG* s = ECDSA_SIG_new();
    ECDSA_SIG_set0(s, BN_bin2bn(raw.data(), static_cast<int>(half), nullptr),
                   BN_bin2bn(raw.data() + half, static_cast<int>(half), nullptr));
    unsigned char* der = nullptr;
    const int len = i2d_ECDSA_SIG(s, &der);
    Bytes out;
    if (len > 0) {
        out.assign(der, der + len);
    }
    OPENSSL_free(der);
    ECDSA_SIG_free(s);
    return out;
}

// EMSA-PSS-ENCODE (RFC 8017 section 9.1.1) for tokens that cannot take the MGF1 digest
// apart from the message digest (SoftHSM2 answers CKR_ARGUMENTS_BAD): the encoded block
// carries no secret and is signed with raw RSA (CKM_RSA_X_509) in the token.
Result<Bytes> emsa_pss_encode(const EVP_MD* md, const EVP_MD* mgf1, const unsigned char* m_hash,
                              size_t h_len, size_t salt_len, int mod_bits, OSSL_LIB_CTX* libctx) {
    const size_t em_bits = static_cast<size_t>(mod_bits - 1);
    const size_t em_len = (em_bits + 7) / 8;
    const size_t k = (static_cast<size_t>(mod_bits) + 7) / 8;
    if (em_len < h_len + salt_len + 2) {
        return Error(Code::InvalidArgument, "RSA-PSS salt too long for the key");
    }
    Bytes salt(salt_len);
    if (salt_len > 0 && RAND_bytes_ex(libctx, salt.data(), salt_len, 0) != 1) {
        return Error(Code::Internal, "no random salt for RSA-PSS");
    }
    Bytes m_prime(8, 0);
    m_prime.insert(m_prime.end(), m_hash, m_hash + h_len);
    m_prime.insert(m_prime.end(), salt.begin(), salt.end());
    Bytes h(h_len);
    unsigned int hl = 0;
    if (EVP_Digest(m_prime.data(), m_prime.size(), h.data(), &hl, md, nullptr) != 1) {
        return Error(Code::Internal, "hashing the RSA-PSS block");
    }
    const size_t db_len = em_len - h_len - 1;
    Bytes db(db_len, 0);
    db[db_len - salt_len - 1] = 0x01;
    std::memcpy(db.data() + db_len - salt_len, salt.data(), salt_len);
    // MGF1 (RFC 8017 appendix B.2.1): Hash(H || counter) blocks until db_len bytes.
    Bytes mask;
    for (std::uint32_t counter = 0; mask.size() < db_len; ++counter) {
        Bytes block(h.begin(), h.end());
        for (int shift = 24; shift >= 0; shift -= 8) {
            block.push_back(static_cast<unsigned char>((counter >> shift) & 0xFFU));
        }
        unsigned char out[EVP_MAX_MD_SIZE];
        unsigned int out_len = 0;
        if (EVP_Digest(block.data(), block.size(), out, &out_len, mgf1, nullptr) != 1) {
            return Error(Code::Internal, "computing MGF1 for RSA-PSS");
        }
        mask.insert(mask.end(), out, out + out_len);
    }
    for (size_t i = 0; i < db_len; ++i) {
        db[i] = static_cast<unsigned char>(db[i] ^ mask[i]);
    }
    db[0] = static_cast<unsigned char>(db[0] & (0xFFU >> (8 * em_len - em_bits)));
    Bytes em(k - em_len, 0); // a leading zero byte when the modulus bits are 8n+1
    em.insert(em.end(), db.begin(), db.end());
    em.insert(em.end(), h.begin(), h.end());
    em.push_back(0xbc);
    return em;
}

Bytes der_of(X509_ALGOR* alg) {
    unsigned char* der = nullptr;
    const int n = i2d_X509_ALGOR(alg, &der);
    Bytes out;
    if (n > 0) {
        out.assign(der, der + n);
    }
    OPENSSL_free(der);
    return out;
}

} // namespace

SignatureContext::SignatureContext(ProviderContext& ctx, SigAlgorithm alg)
    : m_ctx(&ctx), m_alg(alg) {}

SignatureContext::~SignatureContext() {
    EVP_MD_free(m_md);
    EVP_MD_free(m_mgf1);
    EVP_MD_CTX_free(m_mdctx);
}

Result<std::unique_ptr<SignatureContext>> SignatureContext::duplicate() const {
    auto copy = std::make_unique<SignatureContext>(*m_ctx, m_alg);
    copy->m_key = m_key;
    copy->m_signing = m_signing;
    copy->m_pad = m_pad;
    copy->m_saltlen = m_saltlen;
    copy->m_message = m_message;
    if (m_md != nullptr && EVP_MD_up_ref(m_md) == 1) {
        copy->m_md = m_md;
    }
    if (m_mgf1 != nullptr && EVP_MD_up_ref(m_mgf1) == 1) {
        copy->m_mgf1 = m_mgf1;
    }
    if (m_mdctx != nullptr) {
        copy->m_mdctx = EVP_MD_CTX_new();
        if (copy->m_mdctx == nullptr || EVP_MD_CTX_copy_ex(copy->m_mdctx, m_mdctx) != 1) {
            return Error(Code::Internal, "copying the digest state of a signature");
        }
    }
    return copy;
}

std::string SignatureContext::what() const {
    return m_key ? m_key->describe() : std::string("no key");
}

Result<void> SignatureContext::init(std::shared_ptr<Key> key, bool signing,
                                    const OSSL_PARAM params[]) {
    if (!key) {
        key = m_key; // a NULL key re-initialises the context with the key it had
    }
    if (!key) {
        return Error(Code::InvalidArgument, "signature initialised without a key");
    }
    const KeyKind kind = key->kind();
    const bool fits =
        (m_alg == SigAlgorithm::Rsa && (kind == KeyKind::Rsa || kind == KeyKind::RsaPss)) ||
        (m_alg == SigAlgorithm::Ecdsa && kind == KeyKind::Ec) ||
        (m_alg == SigAlgorithm::Ed25519 && kind == KeyKind::Ed25519) ||
        (m_alg == SigAlgorithm::Ed448 && kind == KeyKind::Ed448);
    if (!fits) {
        return Error(Code::InvalidArgument, std::string(key_kind_name(kind)) + " key " +
                                                key->describe() +
                                                " cannot make this kind of signature");
    }
    if (signing && !key->has_private()) {
        return Error(Code::InvalidArgument,
                     key->describe() + " has no private key in a token to sign with");
    }
    m_key = std::move(key);
    m_signing = signing;
    m_pad = kind == KeyKind::RsaPss ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING;
    m_saltlen = RSA_PSS_SALTLEN_DIGEST;
    m_message.clear();
    EVP_MD_free(m_md);
    m_md = nullptr;
    EVP_MD_free(m_mgf1);
    m_mgf1 = nullptr;
    EVP_MD_CTX_free(m_mdctx);
    m_mdctx = nullptr;
    return set_params(params);
}

Result<void> SignatureContext::digest_init(std::shared_ptr<Key> key, bool signing,
                                           const char* md_name, const OSSL_PARAM params[]) {
    if (auto r = init(std::move(key), signing, nullptr); !r) {
        return r;
    }
    const bool eddsa = m_alg == SigAlgorithm::Ed25519 || m_alg == SigAlgorithm::Ed448;
    if (eddsa) {
        if (md_name != nullptr && *md_name != 0) {
            return Error(Code::InvalidArgument, std::string("EdDSA hashes internally: digest ") +
                                                    md_name + " cannot be used with " + what());
        }
        return set_params(params);
    }
    if (auto r = set_digest(md_name != nullptr && *md_name != 0 ? md_name : "SHA256"); !r) {
        return r;
    }
    m_mdctx = EVP_MD_CTX_new();
    if (m_mdctx == nullptr || EVP_DigestInit_ex2(m_mdctx, m_md, nullptr) != 1) {
        return Error(Code::Internal, "starting the message digest for " + what());
    }
    return set_params(params);
}

Result<void> SignatureContext::set_digest(const char* name) {
    EVP_MD* md = EVP_MD_fetch(m_ctx->software_libctx(), name, nullptr);
    if (md == nullptr) {
        return Error(Code::Unsupported, std::string("digest \"") + name +
                                            "\" is not available for signing with " + what());
    }
    if (EVP_MD_get_size(md) <= 0 || EVP_MD_is_a(md, "MD5") || EVP_MD_is_a(md, "MD5-SHA1")) {
        const std::string shown = EVP_MD_get0_name(md);
        EVP_MD_free(md);
        return Error(Code::Unsupported,
                     "digest " + shown + " is not supported for signatures with " + what());
    }
    EVP_MD_free(m_md);
    m_md = md;
    return ok();
}

int SignatureContext::resolved_saltlen() const {
    const int mdlen = m_md != nullptr ? EVP_MD_get_size(m_md) : 0;
    if (m_saltlen == RSA_PSS_SALTLEN_DIGEST) {
        return mdlen;
    }
    if (m_saltlen == RSA_PSS_SALTLEN_MAX || m_saltlen == RSA_PSS_SALTLEN_AUTO) {
        const int bits = m_key->bits();
        int emlen = (bits - 1 + 7) / 8; // EMSA-PSS encoded message length
        return emlen - mdlen - 2;
    }
    return m_saltlen;
}

Result<Bytes> SignatureContext::token_sign(const unsigned char* tbs, size_t tbslen) {
    p11::Object& obj = *m_key->private_object();
    p11::Token& token = *obj.token();
    p11::Mechanism mech;
    Bytes input;
    CK_RSA_PKCS_PSS_PARAMS pss{};
    switch (m_alg) {
    case SigAlgorithm::Rsa:
        if (m_pad == RSA_PKCS1_PADDING) {
            mech.type = CKM_RSA_PKCS;
            if (m_md != nullptr) {
                auto di = digest_info(m_md, tbs, tbslen);
                if (!di) {
                    return di.error();
                }
                input = std::move(di).value();
            } else {
                input.assign(tbs, tbs + tbslen);
            }
        } else if (m_pad == RSA_PKCS1_PSS_PADDING) {
            if (m_md == nullptr) {
                return Error(Code::InvalidArgument,
                             "RSA-PSS signing needs a digest (set one) with " + what());
            }
            const DigestNames* h = pss_names(m_md);
            const DigestNames* g = pss_names(m_mgf1 != nullptr ? m_mgf1 : m_md);
            if (h == nullptr || g == nullptr) {
                return Error(Code::Unsupported,
                             std::string("RSA-PSS with digest ") + EVP_MD_get0_name(m_md) +
                                 " cannot be expressed in PKCS#11 for " + what());
            }
            const int salt = resolved_saltlen();
            if (salt < 0) {
                return Error(Code::InvalidArgument, "RSA-PSS salt length " +
                                                        std::to_string(m_saltlen) +
                                                        " is invalid for " + what());
            }
            if (h != g && !m_key->token_has_mechanism(CKM_RSA_PKCS_PSS_SEPARATE_MGF1_OK) &&
                m_key->token_has_mechanism(CKM_RSA_X_509)) {
                // MGF1 digest differs from the message digest: encode here, sign raw.
                auto em = emsa_pss_encode(m_md, m_mgf1, tbs, tbslen, static_cast<size_t>(salt),
                                          m_key->bits(), m_ctx->software_libctx());
                if (!em) {
                    return em.error();
                }
                mech.type = CKM_RSA_X_509;
                input = std::move(em).value();
                break;
            }
            pss = {h->hash, g->mgf, static_cast<CK_ULONG>(salt)};
            mech = {CKM_RSA_PKCS_PSS, &pss, sizeof pss};
            input.assign(tbs, tbs + tbslen);
        } else if (m_pad == RSA_NO_PADDING) {
            mech.type = CKM_RSA_X_509;
            input.assign(tbs, tbs + tbslen);
        } else {
            return Error(Code::Unsupported, "RSA padding mode " + std::to_string(m_pad) +
                                                " is not supported for signing with " + what());
        }
        break;
    case SigAlgorithm::Ecdsa:
        mech.type = CKM_ECDSA;
        input.assign(tbs, tbs + tbslen);
        break;
    case SigAlgorithm::Ed25519:
    case SigAlgorithm::Ed448:
        mech.type = CKM_EDDSA;
        input.assign(tbs, tbs + tbslen);
        break;
    }
    if (!m_key->token_has_mechanism(mech.type)) {
        return Error(Code::Unsupported, token.identity().describe() + " does not offer " +
                                            mechanism_name(mech.type) + ", needed to sign with " +
                                            what());
    }
    auto sig = p11::sign(obj, mech, input,
                         m_alg == SigAlgorithm::Ecdsa ? 0 : static_cast<size_t>(m_key->max_size()));
    if (!sig) {
        return sig.error();
    }
    if (m_alg == SigAlgorithm::Ecdsa) {
        return ecdsa_raw_to_der(sig.value());
    }
    return std::move(sig).value();
}

Result<void> SignatureContext::sign(unsigned char* sig, size_t* siglen, size_t sigsize,
                                    const unsigned char* tbs, size_t tbslen) {
    const size_t max = static_cast<size_t>(m_key->max_size());
    if (sig == nullptr) {
        *siglen = max;
        return ok();
    }
    if (m_md != nullptr && m_alg != SigAlgorithm::Ed25519 && m_alg != SigAlgorithm::Ed448 &&
        tbslen != static_cast<size_t>(EVP_MD_get_size(m_md))) {
        return Error(Code::InvalidArgument, "input of " + std::to_string(tbslen) +
                                                " bytes is not a " + EVP_MD_get0_name(m_md) +
                                                " digest (signing with " + what() + ")");
    }
    auto out = token_sign(tbs, tbslen);
    if (!out) {
        return out.error();
    }
    if (out->size() > sigsize) {
        return Error(Code::InvalidArgument, "signature buffer too small");
    }
    std::memcpy(sig, out->data(), out->size());
    *siglen = out->size();
    return ok();
}

Result<void> SignatureContext::configure_verify(EVP_PKEY_CTX* pctx) const {
    if (m_md != nullptr && EVP_PKEY_CTX_set_signature_md(pctx, m_md) <= 0) {
        return Error(Code::Internal, "setting the verification digest");
    }
    if (m_alg == SigAlgorithm::Rsa) {
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, m_pad) <= 0) {
            return Error(Code::Internal, "setting the verification padding");
        }
        if (m_pad == RSA_PKCS1_PSS_PADDING &&
            (EVP_PKEY_CTX_set_rsa_pss_saltlen(
                 pctx, m_saltlen == RSA_PSS_SALTLEN_MAX ? RSA_PSS_SALTLEN_AUTO : m_saltlen) <= 0 ||
             (m_mgf1 != nullptr && EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, m_mgf1) <= 0))) {
            return Error(Code::Internal, "setting the RSA-PSS verification parameters");
        }
    }
    return ok();
}

Result<bool> SignatureContext::verify(const unsigned char* sig, size_t siglen,
                                      const unsigned char* tbs, size_t tbslen) {
    EVP_PKEY_CTX* pctx =
        EVP_PKEY_CTX_new_from_pkey(m_ctx->software_libctx(), m_key->public_pkey(), nullptr);
    if (pctx == nullptr || EVP_PKEY_verify_init(pctx) <= 0) {
        EVP_PKEY_CTX_free(pctx);
        return Error(Code::Internal, "starting software verification for " + what());
    }
    auto cfg = configure_verify(pctx);
    const int rc = cfg ? EVP_PKEY_verify(pctx, sig, siglen, tbs, tbslen) : -1;
    EVP_PKEY_CTX_free(pctx);
    if (!cfg) {
        return cfg.error();
    }
    return rc == 1;
}

Result<void> SignatureContext::update(const unsigned char* data, size_t len) {
    if (m_mdctx == nullptr) {
        // EdDSA: the whole message goes to the token at the end.
        m_message.insert(m_message.end(), data, data + len);
        return ok();
    }
    if (EVP_DigestUpdate(m_mdctx, data, len) != 1) {
        return Error(Code::Internal, "hashing the message for " + what());
    }
    return ok();
}

Result<void> SignatureContext::sign_final(unsigned char* sig, size_t* siglen, size_t sigsize) {
    if (sig == nullptr) {
        *siglen = static_cast<size_t>(m_key->max_size());
        return ok();
    }
    if (m_mdctx == nullptr) {
        return sign(sig, siglen, sigsize, m_message.data(), m_message.size());
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (EVP_DigestFinal_ex(m_mdctx, digest, &dlen) != 1) {
        return Error(Code::Internal, "finishing the message digest for " + what());
    }
    return sign(sig, siglen, sigsize, digest, dlen);
}

Result<bool> SignatureContext::verify_final(const unsigned char* sig, size_t siglen) {
    if (m_mdctx == nullptr) {
        return digest_verify(sig, siglen, m_message.data(), m_message.size());
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (EVP_DigestFinal_ex(m_mdctx, digest, &dlen) != 1) {
        return Error(Code::Internal, "finishing the message digest for " + what());
    }
    return verify(sig, siglen, digest, dlen);
}

Result<void> SignatureContext::digest_sign(unsigned char* sig, size_t* siglen, size_t sigsize,
                                           const unsigned char* tbs, size_t tbslen) {
    if (sig == nullptr || m_mdctx == nullptr) {
        return sign(sig, siglen, sigsize, tbs, tbslen);
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (EVP_Digest(tbs, tbslen, digest, &dlen, m_md, nullptr) != 1) {
        return Error(Code::Internal, "hashing the message for " + what());
    }
    return sign(sig, siglen, sigsize, digest, dlen);
}

Result<bool> SignatureContext::digest_verify(const unsigned char* sig, size_t siglen,
                                             const unsigned char* tbs, size_t tbslen) {
    if (m_mdctx != nullptr) {
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int dlen = 0;
        if (EVP_Digest(tbs, tbslen, digest, &dlen, m_md, nullptr) != 1) {
            return Error(Code::Internal, "hashing the message for " + what());
        }
        return verify(sig, siglen, digest, dlen);
    }
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    const int rc =
        md != nullptr && EVP_DigestVerifyInit_ex(md, nullptr, nullptr, m_ctx->software_libctx(),
                                                 nullptr, m_key->public_pkey(), nullptr) == 1
            ? EVP_DigestVerify(md, sig, siglen, tbs, tbslen)
            : -1;
    EVP_MD_CTX_free(md);
    return rc == 1;
}

Result<void> SignatureContext::set_params(const OSSL_PARAM params[]) {
    if (params == nullptr) {
        return ok();
    }
    const OSSL_PARAM* p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST);
    if (p != nullptr) {
        const char* name = nullptr;
        if (OSSL_PARAM_get_utf8_string_ptr(p, &name) != 1) {
            return Error(Code::InvalidArgument, "the digest parameter is not a string");
        }
        if (auto r = set_digest(name); !r) {
            return r;
        }
    }
    if (m_alg != SigAlgorithm::Rsa) {
        return ok();
    }
    p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PAD_MODE);
    if (p != nullptr) {
        int mode = 0;
        const char* name = nullptr;
        if (p->data_type == OSSL_PARAM_UTF8_STRING && OSSL_PARAM_get_utf8_string_ptr(p, &name)) {
            const std::string_view n = name;
            mode = n == OSSL_PKEY_RSA_PAD_MODE_PKCSV15 ? RSA_PKCS1_PADDING
                   : n == OSSL_PKEY_RSA_PAD_MODE_PSS   ? RSA_PKCS1_PSS_PADDING
                   : n == OSSL_PKEY_RSA_PAD_MODE_NONE  ? RSA_NO_PADDING
                                                       : -1;
        } else if (OSSL_PARAM_get_int(p, &mode) != 1) {
            mode = -1;
        }
        if (mode != RSA_PKCS1_PADDING && mode != RSA_PKCS1_PSS_PADDING && mode != RSA_NO_PADDING) {
            return Error(Code::Unsupported, "RSA padding mode is not supported for signatures "
                                            "with " +
                                                what() + " (pkcs1, pss and none are)");
        }
        if (m_key && m_key->kind() == KeyKind::RsaPss && mode != RSA_PKCS1_PSS_PADDING) {
            return Error(Code::InvalidArgument, what() + " is an RSA-PSS key: only PSS padding");
        }
        m_pad = mode;
    }
    p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN);
    if (p != nullptr) {
        int salt = 0;
        const char* name = nullptr;
        if (p->data_type == OSSL_PARAM_UTF8_STRING && OSSL_PARAM_get_utf8_string_ptr(p, &name)) {
            const std::string_view n = name;
            if (n == OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST) {
                salt = RSA_PSS_SALTLEN_DIGEST;
            } else if (n == OSSL_PKEY_RSA_PSS_SALT_LEN_MAX) {
                salt = RSA_PSS_SALTLEN_MAX;
            } else if (n == OSSL_PKEY_RSA_PSS_SALT_LEN_AUTO) {
                salt = RSA_PSS_SALTLEN_AUTO;
            } else {
                salt = std::atoi(name);
                if (salt < 0 || std::to_string(salt) != n) {
                    return Error(Code::InvalidArgument,
                                 "bad RSA-PSS salt length \"" + std::string(n) + "\"");
                }
            }
        } else if (OSSL_PARAM_get_int(p, &salt) != 1) {
            return Error(Code::InvalidArgument, "bad RSA-PSS salt length parameter");
        }
        m_saltlen = salt;
    }
    p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST);
    if (p != nullptr) {
        const char* name = nullptr;
        if (OSSL_PARAM_get_utf8_string_ptr(p, &name) != 1) {
            return Error(Code::InvalidArgument, "the MGF1 digest parameter is not a string");
        }
        EVP_MD* md = EVP_MD_fetch(m_ctx->software_libctx(), name, nullptr);
        if (md == nullptr) {
            return Error(Code::Unsupported,
                         std::string("MGF1 digest \"") + name + "\" is not available");
        }
        EVP_MD_free(m_mgf1);
        m_mgf1 = md;
    }
    return ok();
}

Result<Bytes> SignatureContext::algorithm_id() const {
    X509_ALGOR* alg = X509_ALGOR_new();
    if (alg == nullptr) {
        return Error(Code::Internal, "out of memory");
    }
    Bytes out;
    if (m_alg == SigAlgorithm::Ed25519 || m_alg == SigAlgorithm::Ed448) {
        X509_ALGOR_set0(alg, OBJ_nid2obj(m_alg == SigAlgorithm::Ed25519 ? NID_ED25519 : NID_ED448),
                        V_ASN1_UNDEF, nullptr);
        out = der_of(alg);
    } else if (m_md != nullptr && m_alg == SigAlgorithm::Rsa && m_pad == RSA_PKCS1_PSS_PADDING) {
        // RSASSA-PSS-params with explicit hash, MGF1 hash and salt length (RFC 4055).
        RSA_PSS_PARAMS* pss = RSA_PSS_PARAMS_new();
        const EVP_MD* mgf1 = m_mgf1 != nullptr ? m_mgf1 : m_md;
        X509_ALGOR* mgf1_hash = X509_ALGOR_new();
        bool good = pss != nullptr && mgf1_hash != nullptr;
        if (good && !EVP_MD_is_a(m_md, "SHA1")) {
            pss->hashAlgorithm = X509_ALGOR_new();
            good = pss->hashAlgorithm != nullptr;
            if (good) {
                X509_ALGOR_set_md(pss->hashAlgorithm, m_md);
            }
        }
        if (good && !EVP_MD_is_a(mgf1, "SHA1")) {
            X509_ALGOR_set_md(mgf1_hash, mgf1);
            ASN1_STRING* packed = ASN1_item_pack(mgf1_hash, ASN1_ITEM_rptr(X509_ALGOR), nullptr);
            pss->maskGenAlgorithm = X509_ALGOR_new();
            good = packed != nullptr && pss->maskGenAlgorithm != nullptr &&
                   X509_ALGOR_set0(pss->maskGenAlgorithm, OBJ_nid2obj(NID_mgf1), V_ASN1_SEQUENCE,
                                   packed) == 1;
        }
        const int salt = resolved_saltlen();
        if (good && salt != 20) {
            pss->saltLength = ASN1_INTEGER_new();
            good = pss->saltLength != nullptr && ASN1_INTEGER_set(pss->saltLength, salt) == 1;
        }
        ASN1_STRING* params =
            good ? ASN1_item_pack(pss, ASN1_ITEM_rptr(RSA_PSS_PARAMS), nullptr) : nullptr;
        if (params != nullptr &&
            X509_ALGOR_set0(alg, OBJ_nid2obj(NID_rsassaPss), V_ASN1_SEQUENCE, params) == 1) {
            out = der_of(alg);
        }
        X509_ALGOR_free(mgf1_hash);
        RSA_PSS_PARAMS_free(pss);
    } else if (m_md != nullptr) {
        int sig_nid = NID_undef;
        const int pkey_nid =
            m_alg == SigAlgorithm::Rsa ? NID_rsaEncryption : NID_X9_62_id_ecPublicKey;
        if (OBJ_find_sigid_by_algs(&sig_nid, EVP_MD_get_type(m_md), pkey_nid) == 1) {
            X509_ALGOR_set0(alg, OBJ_nid2obj(sig_nid),
                            m_alg == SigAlgorithm::Rsa ? V_ASN1_NULL : V_ASN1_UNDEF, nullptr);
            out = der_of(alg);
        }
    }
    X509_ALGOR_free(alg);
    if (out.empty()) {
        return Error(Code::Unsupported,
                     "no X.509 algorithm identifier for this signature with " + what());
    }
    return out;
}

Result<void> SignatureContext::get_params(OSSL_PARAM params[]) const {
    OSSL_PARAM* p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID);
    if (p != nullptr) {
        auto der = algorithm_id();
        if (!der) {
            return der.error();
        }
        if (OSSL_PARAM_set_octet_string(p, der->data(), der->size()) != 1) {
            return Error(Code::Internal, "algorithm-id buffer");
        }
    }
    p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST);
    if (p != nullptr && m_md != nullptr &&
        OSSL_PARAM_set_utf8_string(p, EVP_MD_get0_name(m_md)) != 1) {
        return Error(Code::Internal, "digest parameter");
    }
    if (m_alg == SigAlgorithm::Rsa) {
        p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PAD_MODE);
        if (p != nullptr) {
            const char* name = m_pad == RSA_PKCS1_PSS_PADDING ? OSSL_PKEY_RSA_PAD_MODE_PSS
                               : m_pad == RSA_NO_PADDING      ? OSSL_PKEY_RSA_PAD_MODE_NONE
                                                              : OSSL_PKEY_RSA_PAD_MODE_PKCSV15;
            const int ok_set = p->data_type == OSSL_PARAM_INTEGER
                                   ? OSSL_PARAM_set_int(p, m_pad)
                                   : OSSL_PARAM_set_utf8_string(p, name);
            if (ok_set != 1) {
                return Error(Code::Internal, "pad-mode parameter");
            }
        }
        p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN);
        if (p != nullptr && p->data_type == OSSL_PARAM_INTEGER &&
            OSSL_PARAM_set_int(p, m_saltlen) != 1) {
            return Error(Code::Internal, "saltlen parameter");
        }
    }
    return ok();
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
    static const OSSL_PARAM kOther[] = {
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PROPERTIES, nullptr, 0),
        OSSL_PARAM_END,
    };
    return alg == SigAlgorithm::Rsa ? kRsa : kOther;
}

const OSSL_PARAM* SignatureContext::gettable_params() noexcept {
    static const OSSL_PARAM kParams[] = {
        OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, nullptr, 0),
        OSSL_PARAM_int(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, nullptr),
        OSSL_PARAM_END,
    };
    return kParams;
}

} // namespace hsmp::ops
