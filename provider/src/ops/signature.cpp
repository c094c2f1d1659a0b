#include "ops/signature.hpp"

#include "ops/signature_encoding.hpp"
#include "pkcs11/operation.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <array>
#include <cstring>
#include <string_view>

namespace hsmp::ops {

namespace {

using Bytes = std::vector<std::uint8_t>;
using ByteSpan = std::span<const std::uint8_t>;

ByteSpan bytes(const unsigned char* p, size_t n) {
    return {p, n};
}

bool key_fits(SigAlgorithm alg, KeyKind kind) {
    switch (alg) {
    case SigAlgorithm::Rsa:
    case SigAlgorithm::RsaPss:
        return kind == KeyKind::Rsa || kind == KeyKind::RsaPss;
    case SigAlgorithm::Ecdsa:
        return kind == KeyKind::Ec;
    case SigAlgorithm::Ed25519:
        return kind == KeyKind::Ed25519;
    case SigAlgorithm::Ed448:
        return kind == KeyKind::Ed448;
    }
    return false;
}

// r || s of the largest curve ecdsa_rs_to_der takes (halves up to 124 bytes; P-521 needs 66).
constexpr std::size_t kMaxEcdsaRs = 2 * 124;

Error not_initialised() {
    return Error(Code::InvalidArgument, "the signature operation was not initialised with a key");
}

} // namespace

std::string_view signature_algorithm_name(SigAlgorithm alg) noexcept {
    switch (alg) {
    case SigAlgorithm::Rsa:
        return "RSA";
    case SigAlgorithm::RsaPss:
        return "RSA-PSS";
    case SigAlgorithm::Ecdsa:
        return "ECDSA";
    case SigAlgorithm::Ed25519:
        return "Ed25519";
    case SigAlgorithm::Ed448:
        return "Ed448";
    }
    return "unknown";
}

SignatureContext::SignatureContext(ProviderContext& ctx, SigAlgorithm alg)
    : m_ctx(&ctx), m_alg(alg) {}

SignatureContext::~SignatureContext() {
    reset();
}

void SignatureContext::reset() noexcept {
    m_md = nullptr; // borrowed from the provider context
    m_mgf1 = nullptr;
    EVP_MD_CTX_free(m_mdctx);
    m_mdctx = nullptr;
    m_mdctx_fresh = false;
    m_digesting = false;
    m_feed = Feed::Undecided;
    m_message.clear();
    m_saltlen = RSA_PSS_SALTLEN_AUTO;
}

Result<std::unique_ptr<SignatureContext>> SignatureContext::duplicate() const {
    auto copy = std::make_unique<SignatureContext>(*m_ctx, m_alg);
    copy->m_key = m_key;
    copy->m_signing = m_signing;
    copy->m_digesting = m_digesting;
    copy->m_mdctx_fresh = m_mdctx_fresh;
    copy->m_feed = m_feed;
    copy->m_pad = m_pad;
    copy->m_saltlen = m_saltlen;
    copy->m_message = m_message;
    copy->m_md = m_md;
    copy->m_mgf1 = m_mgf1;
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
    if (!key_fits(m_alg, kind)) {
        return Error(Code::InvalidArgument, std::string(key_kind_name(kind)) + " key " +
                                                key->describe() + " cannot make " +
                                                std::string(signature_algorithm_name(m_alg)) +
                                                " signatures");
    }
    if (signing && !key->has_private()) {
        return Error(Code::InvalidArgument,
                     key->describe() + " has no private key in a token to sign with");
    }
    m_key = std::move(key);
    m_signing = signing;
    reset();
    m_pad = m_alg == SigAlgorithm::RsaPss || kind == KeyKind::RsaPss ? RSA_PKCS1_PSS_PADDING
                                                                     : RSA_PKCS1_PADDING;
    return set_params(params);
}

Result<void> SignatureContext::digest_init(std::shared_ptr<Key> key, bool signing,
                                           const char* md_name, const OSSL_PARAM params[]) {
    if (auto r = init(std::move(key), signing, nullptr); !r) {
        return r;
    }
    const bool named = md_name != nullptr && *md_name != 0;
    if (eddsa()) {
        if (named) {
            return Error(Code::InvalidArgument, std::string(signature_algorithm_name(m_alg)) +
                                                    " hashes internally: digest " + md_name +
                                                    " cannot be used with " + what());
        }
    } else {
        if (auto r = set_digest(named ? md_name : "SHA256"); !r) {
            return r;
        }
        m_mdctx = EVP_MD_CTX_new();
        if (m_mdctx == nullptr || EVP_DigestInit_ex2(m_mdctx, m_md, nullptr) != 1) {
            return Error(Code::Internal, "starting the message digest for " + what());
        }
        m_mdctx_fresh = true;
    }
    m_digesting = true;
    return set_params(params);
}

// --- choosing the token mechanism ---------------------------------------------------------

Result<SignatureContext::Plan>
SignatureContext::pick(CK_MECHANISM_TYPE raw, CK_MECHANISM_TYPE combined, bool message) const {
    if (m_key->token_has_mechanism(raw)) {
        return Plan{raw, false, false, {}};
    }
    if (message && combined != 0 && m_key->token_has_mechanism(combined)) {
        return Plan{combined, true, false, {}};
    }
    std::string need(sig::mechanism_name(raw));
    if (combined != 0 && message) {
        need += " or " + std::string(sig::mechanism_name(combined));
    }
    std::string hint;
    if (combined != 0 && !message && m_key->token_has_mechanism(combined)) {
        hint = " (it offers " + std::string(sig::mechanism_name(combined)) +
               ", which needs the message rather than its digest: sign the message)";
    }
    return Error(Code::Unsupported,
                 "the token does not offer " + need + ", needed to sign with " + what() + hint);
}

Result<SignatureContext::Plan> SignatureContext::plan(bool message) const {
    const sig::DigestSpec* d = sig::digest_spec(m_md);
    switch (m_alg) {
    case SigAlgorithm::Ed25519:
    case SigAlgorithm::Ed448: {
        auto p = pick(CKM_EDDSA, 0, message);
        if (p) {
            p->whole_message = true;
        }
        return p;
    }
    case SigAlgorithm::Ecdsa:
        return pick(CKM_ECDSA, d != nullptr ? d->ecdsa : 0, message);
    case SigAlgorithm::Rsa:
    case SigAlgorithm::RsaPss:
        break;
    }
    return plan_rsa(message);
}

Result<SignatureContext::Plan> SignatureContext::plan_rsa(bool message) const {
    const sig::DigestSpec* h = sig::digest_spec(m_md);
    if (m_pad == RSA_PKCS1_PADDING) {
        return pick(CKM_RSA_PKCS, h != nullptr ? h->rsa_pkcs : 0, message);
    }
    if (h == nullptr) {
        return Error(Code::InvalidArgument,
                     "RSA-PSS signing needs a digest (set the digest parameter) with " + what());
    }
    const sig::DigestSpec* g = m_mgf1 != nullptr ? sig::digest_spec(m_mgf1) : h;
    auto salt = sig::pss_salt_length(m_saltlen, h->size, m_key->bits());
    if (!salt) {
        return salt.error().with_context(what());
    }
    const CK_RSA_PKCS_PSS_PARAMS params{h->hash, g->mgf, static_cast<CK_ULONG>(salt.value())};
    const bool expressible = h->hash != 0 && g->mgf != 0;
    const bool raw_rsa = m_key->token_has_mechanism(CKM_RSA_X_509);
    // SoftHSM2 (and others) refuse an MGF1 digest other than the message digest with
    // CKR_ARGUMENTS_BAD, and PKCS#11 2.40 cannot name SHA-3 at all: then the EMSA-PSS block
    // is built here and signed with raw RSA, when the token allows that.
    if (expressible && (h == g || !raw_rsa)) {
        auto p = pick(CKM_RSA_PKCS_PSS, h == g ? h->rsa_pss : 0, message);
        if (p) {
            p->pss = params;
        }
        return p;
    }
    if (raw_rsa) {
        return Plan{CKM_RSA_X_509, false, true, params};
    }
    return Error(Code::Unsupported, std::string("RSA-PSS with digest ") + h->name +
                                        " and MGF1 digest " + g->name +
                                        " has no PKCS#11 mechanism parameters, and the token does "
                                        "not offer CKM_RSA_X_509 to sign such a block (key " +
                                        what() + ")");
}

// --- signing ------------------------------------------------------------------------------

Result<void> SignatureContext::token_sign(const Plan& plan, ByteSpan input, unsigned char* sig,
                                          size_t* siglen, size_t sigsize) {
    const auto max = static_cast<size_t>(m_key->max_size());
    if (sigsize < max) {
        return Error(Code::InvalidArgument, "a signature buffer of " + std::to_string(sigsize) +
                                                " bytes is smaller than the " +
                                                std::to_string(max) + " a signature with " +
                                                what() + " may need");
    }
    CK_RSA_PKCS_PSS_PARAMS pss = plan.pss;
    p11::Mechanism mech{plan.mechanism};
    if (plan.pss.hashAlg != 0 && !plan.encode_pss) {
        mech.parameter = &pss;
        mech.parameter_len = sizeof pss;
    }
    // The token writes into a buffer of exactly the largest signature, so one C_Sign call
    // does and nothing is allocated: r || s is two field elements (on the stack, then
    // turned into DER in the caller's buffer); RSA and EdDSA signatures have the key's
    // size and go straight into the caller's buffer, which is at least that large.
    if (m_alg == SigAlgorithm::Ecdsa) {
        std::array<std::uint8_t, kMaxEcdsaRs> rs{};
        const size_t rs_len = 2 * ((static_cast<size_t>(m_key->bits()) + 7) / 8);
        if (rs_len > rs.size()) {
            return Error(Code::Unsupported, "ECDSA key of " + std::to_string(m_key->bits()) +
                                                " bits is larger than supported (" + what() + ")");
        }
        auto len = p11::sign_into(*m_key->private_object(), mech, input, {rs.data(), rs_len});
        if (!len) {
            return len.error();
        }
        const size_t n = sig::ecdsa_rs_to_der({rs.data(), len.value()}, {sig, sigsize});
        if (n == 0) {
            return Error(Code::Internal, "the token returned a malformed ECDSA signature (" +
                                             std::to_string(len.value()) + " bytes) for " + what());
        }
        *siglen = n;
        return ok();
    }
    auto len = p11::sign_into(*m_key->private_object(), mech, input, {sig, max});
    if (!len) {
        return len.error();
    }
    *siglen = len.value();
    return ok();
}

Result<void> SignatureContext::sign_digest(ByteSpan digest, unsigned char* sig, size_t* siglen,
                                           size_t sigsize) {
    auto p = plan(false);
    if (!p) {
        return p.error();
    }
    const sig::DigestSpec* d = sig::digest_spec(m_md);
    if (p->mechanism == CKM_RSA_PKCS && d != nullptr) {
        std::array<std::uint8_t, sig::kMaxDigestInfo> info{};
        const size_t n = sig::digest_info(*d, digest, info);
        if (n == 0) {
            return Error(Code::InvalidArgument, "input of " + std::to_string(digest.size()) +
                                                    " bytes is not a " + d->name + " digest");
        }
        return token_sign(*p, {info.data(), n}, sig, siglen, sigsize);
    }
    if (p->encode_pss) {
        const size_t salt_len = p->pss.sLen;
        Bytes salt(salt_len);
        if (salt_len > 0 &&
            RAND_bytes_ex(m_ctx->software_libctx(), salt.data(), salt_len, 0) != 1) {
            return Error(Code::Internal, "no random salt for RSA-PSS");
        }
        auto em = sig::emsa_pss_encode(m_md, m_mgf1 != nullptr ? m_mgf1 : m_md, digest, salt,
                                       m_key->bits());
        if (!em) {
            return em.error().with_context(what());
        }
        return token_sign(*p, em.value(), sig, siglen, sigsize);
    }
    return token_sign(*p, digest, sig, siglen, sigsize);
}

Result<void> SignatureContext::sign(unsigned char* sig, size_t* siglen, size_t sigsize,
                                    const unsigned char* tbs, size_t tbslen) {
    if (!m_key) {
        return not_initialised();
    }
    if (sig == nullptr) {
        *siglen = static_cast<size_t>(m_key->max_size());
        return ok();
    }
    if (!m_signing) {
        return Error(Code::InvalidArgument, "the context was initialised for verification");
    }
    if (eddsa()) {
        // EdDSA signs the message itself, in one call.
        auto p = plan(true);
        if (!p) {
            return p.error();
        }
        return token_sign(*p, bytes(tbs, tbslen), sig, siglen, sigsize);
    }
    if (m_md != nullptr && tbslen != static_cast<size_t>(EVP_MD_get_size(m_md))) {
        return Error(Code::InvalidArgument, "input of " + std::to_string(tbslen) +
                                                " bytes is not a " + EVP_MD_get0_name(m_md) +
                                                " digest (signing with " + what() + ")");
    }
    return sign_digest(bytes(tbs, tbslen), sig, siglen, sigsize);
}

Result<SignatureContext::Feed> SignatureContext::decide_feed() {
    if (eddsa()) {
        return Feed::Collect;
    }
    if (!m_signing) {
        return Feed::Hash;
    }
    auto p = plan(true);
    if (!p) {
        return p.error();
    }
    return p->whole_message ? Feed::Collect : Feed::Hash;
}

Result<void> SignatureContext::update(const unsigned char* data, size_t len) {
    if (!m_key) {
        return not_initialised();
    }
    if (!m_digesting) {
        return Error(Code::InvalidArgument, "message update without digest_sign_init");
    }
    if (m_feed == Feed::Undecided) {
        auto f = decide_feed();
        if (!f) {
            return f.error();
        }
        m_feed = f.value();
    }
    if (m_feed == Feed::Collect) {
        m_message.insert(m_message.end(), data, data + len);
        return ok();
    }
    if (!m_mdctx_fresh) {
        return Error(Code::InvalidArgument,
                     "the message digest has been finished: initialise the signature again");
    }
    if (EVP_DigestUpdate(m_mdctx, data, len) != 1) {
        return Error(Code::Internal, "hashing the message for " + what());
    }
    return ok();
}

Result<std::span<const std::uint8_t>> SignatureContext::finish_digest(unsigned char* buf) {
    unsigned int len = 0;
    if (!m_mdctx_fresh || EVP_DigestFinal_ex(m_mdctx, buf, &len) != 1) {
        return Error(Code::Internal, "finishing the message digest for " + what());
    }
    m_mdctx_fresh = false;
    return ByteSpan{buf, len};
}

Result<void> SignatureContext::sign_final(unsigned char* sig, size_t* siglen, size_t sigsize) {
    if (!m_key) {
        return not_initialised();
    }
    if (sig == nullptr) {
        *siglen = static_cast<size_t>(m_key->max_size());
        return ok();
    }
    if (!m_digesting || !m_signing) {
        return Error(Code::InvalidArgument, "digest_sign_final without digest_sign_init");
    }
    if (m_feed == Feed::Undecided) {
        auto f = decide_feed(); // an empty message
        if (!f) {
            return f.error();
        }
        m_feed = f.value();
    }
    if (m_feed == Feed::Collect) {
        auto p = plan(true);
        if (!p) {
            return p.error();
        }
        if (!p->whole_message) {
            return Error(Code::InvalidArgument,
                         "signature parameters changed after the message began (" + what() + ")");
        }
        return token_sign(*p, m_message, sig, siglen, sigsize);
    }
    unsigned char buf[EVP_MAX_MD_SIZE];
    auto digest = finish_digest(buf);
    if (!digest) {
        return digest.error();
    }
    return sign_digest(digest.value(), sig, siglen, sigsize);
}

Result<void> SignatureContext::digest_sign(unsigned char* sig, size_t* siglen, size_t sigsize,
                                           const unsigned char* tbs, size_t tbslen) {
    if (!m_key) {
        return not_initialised();
    }
    if (sig == nullptr) {
        *siglen = static_cast<size_t>(m_key->max_size());
        return ok();
    }
    if (!m_digesting || !m_signing) {
        return Error(Code::InvalidArgument, "digest_sign without digest_sign_init");
    }
    auto p = plan(true);
    if (!p) {
        return p.error();
    }
    if (p->whole_message) {
        return token_sign(*p, bytes(tbs, tbslen), sig, siglen, sigsize);
    }
    // The digest context set up at init is used directly; a second one-shot on the same
    // context starts it again.
    if (!m_mdctx_fresh) {
        if (EVP_DigestInit_ex2(m_mdctx, m_md, nullptr) != 1) {
            return Error(Code::Internal, "restarting the message digest for " + what());
        }
        m_mdctx_fresh = true;
    }
    unsigned char buf[EVP_MAX_MD_SIZE];
    if (EVP_DigestUpdate(m_mdctx, tbs, tbslen) != 1) {
        return Error(Code::Internal, "hashing the message for " + what());
    }
    auto digest = finish_digest(buf);
    if (!digest) {
        return digest.error();
    }
    return sign_digest(digest.value(), sig, siglen, sigsize);
}

// --- verification (software, public key only) ---------------------------------------------

Result<void> SignatureContext::configure_verify(EVP_PKEY_CTX* pctx) const {
    if (m_md != nullptr && EVP_PKEY_CTX_set_signature_md(pctx, m_md) <= 0) {
        return Error(Code::Internal, "setting the verification digest");
    }
    if (rsa()) {
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, m_pad) <= 0) {
            return Error(Code::Internal, "setting the verification padding");
        }
        if (m_pad == RSA_PKCS1_PSS_PADDING &&
            (EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, m_saltlen) <= 0 ||
             (m_mgf1 != nullptr && EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, m_mgf1) <= 0))) {
            return Error(Code::Internal, "setting the RSA-PSS verification parameters");
        }
    }
    return ok();
}

Result<bool> SignatureContext::verify(const unsigned char* sig, size_t siglen,
                                      const unsigned char* tbs, size_t tbslen) {
    if (!m_key) {
        return not_initialised();
    }
    if (eddsa()) {
        return verify_message(sig, siglen, tbs, tbslen);
    }
    EVP_PKEY_CTX* pctx =
        EVP_PKEY_CTX_new_from_pkey(m_ctx->software_libctx(), m_key->public_pkey(), nullptr);
    if (pctx == nullptr || EVP_PKEY_verify_init(pctx) <= 0) {
        EVP_PKEY_CTX_free(pctx);
        return Error(Code::Internal, "starting software verification for " + what());
    }
    auto cfg = configure_verify(pctx);
    // A bad signature is an answer, not an error: OpenSSL's reasons for it stay off the queue.
    ERR_set_mark();
    const int rc = cfg ? EVP_PKEY_verify(pctx, sig, siglen, tbs, tbslen) : -1;
    ERR_pop_to_mark();
    EVP_PKEY_CTX_free(pctx);
    if (!cfg) {
        return cfg.error();
    }
    return rc == 1;
}

Result<bool> SignatureContext::verify_message(const unsigned char* sig, size_t siglen,
                                              const unsigned char* tbs, size_t tbslen) {
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    if (md == nullptr || EVP_DigestVerifyInit_ex(md, nullptr, nullptr, m_ctx->software_libctx(),
                                                 nullptr, m_key->public_pkey(), nullptr) != 1) {
        EVP_MD_CTX_free(md);
        return Error(Code::Internal, "starting software verification for " + what());
    }
    ERR_set_mark();
    const int rc = EVP_DigestVerify(md, sig, siglen, tbs, tbslen);
    ERR_pop_to_mark();
    EVP_MD_CTX_free(md);
    return rc == 1;
}

Result<bool> SignatureContext::verify_final(const unsigned char* sig, size_t siglen) {
    if (!m_key) {
        return not_initialised();
    }
    if (!m_digesting) {
        return Error(Code::InvalidArgument, "digest_verify_final without digest_verify_init");
    }
    if (eddsa()) {
        return verify_message(sig, siglen, m_message.data(), m_message.size());
    }
    unsigned char buf[EVP_MAX_MD_SIZE];
    auto digest = finish_digest(buf);
    if (!digest) {
        return digest.error();
    }
    return verify(sig, siglen, digest->data(), digest->size());
}

Result<bool> SignatureContext::digest_verify(const unsigned char* sig, size_t siglen,
                                             const unsigned char* tbs, size_t tbslen) {
    if (!m_key) {
        return not_initialised();
    }
    if (!m_digesting) {
        return Error(Code::InvalidArgument, "digest_verify without digest_verify_init");
    }
    if (eddsa()) {
        return verify_message(sig, siglen, tbs, tbslen);
    }
    if (!m_mdctx_fresh) {
        if (EVP_DigestInit_ex2(m_mdctx, m_md, nullptr) != 1) {
            return Error(Code::Internal, "restarting the message digest for " + what());
        }
        m_mdctx_fresh = true;
    }
    if (EVP_DigestUpdate(m_mdctx, tbs, tbslen) != 1) {
        return Error(Code::Internal, "hashing the message for " + what());
    }
    unsigned char buf[EVP_MAX_MD_SIZE];
    auto digest = finish_digest(buf);
    if (!digest) {
        return digest.error();
    }
    return verify(sig, siglen, digest->data(), digest->size());
}

} // namespace hsmp::ops
