// Signing and random functions of the fake module, computed with OpenSSL so that callers
// can verify signatures against the public key attributes. The signature itself runs
// outside the module mutex, as on a token that serves sessions in parallel.
#include "fake_module.hpp"

#include <openssl/ec.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <climits>
#include <cstring>
#include <memory>

namespace fake {
namespace {

struct MechSpec {
    CK_MECHANISM_TYPE mech;
    CK_KEY_TYPE key_type;
    CK_MECHANISM_TYPE digest; ///< hash applied by the token, 0 for raw input
    bool pss;
};

constexpr MechSpec kSpecs[] = {
    {CKM_RSA_PKCS, CKK_RSA, 0, false},
    {CKM_SHA256_RSA_PKCS, CKK_RSA, CKM_SHA256, false},
    {CKM_SHA384_RSA_PKCS, CKK_RSA, CKM_SHA384, false},
    {CKM_SHA512_RSA_PKCS, CKK_RSA, CKM_SHA512, false},
    {CKM_RSA_PKCS_PSS, CKK_RSA, 0, true},
    {CKM_SHA256_RSA_PKCS_PSS, CKK_RSA, CKM_SHA256, true},
    {CKM_ECDSA, CKK_EC, 0, false},
    {CKM_ECDSA_SHA256, CKK_EC, CKM_SHA256, false},
};

const MechSpec* spec_of(CK_MECHANISM_TYPE m) {
    for (const auto& s : kSpecs) {
        if (s.mech == m) {
            return &s;
        }
    }
    return nullptr;
}

const EVP_MD* md_of(CK_MECHANISM_TYPE hash) {
    switch (hash) {
    case CKM_SHA_1:
        return EVP_sha1();
    case CKM_SHA224:
        return EVP_sha224();
    case CKM_SHA256:
        return EVP_sha256();
    case CKM_SHA384:
        return EVP_sha384();
    case CKM_SHA512:
        return EVP_sha512();
    default:
        return nullptr;
    }
}

CK_RSA_PKCS_MGF_TYPE mgf_for(CK_MECHANISM_TYPE hash) {
    switch (hash) {
    case CKM_SHA_1:
        return CKG_MGF1_SHA1;
    case CKM_SHA224:
        return CKG_MGF1_SHA224;
    case CKM_SHA256:
        return CKG_MGF1_SHA256;
    case CKM_SHA384:
        return CKG_MGF1_SHA384;
    case CKM_SHA512:
        return CKG_MGF1_SHA512;
    default:
        return 0;
    }
}

// Which hash an MGF1 type names (the inverse of mgf_for).
CK_MECHANISM_TYPE hash_of_mgf(CK_RSA_PKCS_MGF_TYPE mgf) {
    for (const CK_MECHANISM_TYPE h : {CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384, CKM_SHA512}) {
        if (mgf_for(h) == mgf) {
            return h;
        }
    }
    return 0;
}

CK_RV check_params(const MechSpec& spec, const CK_MECHANISM& m, CK_RSA_PKCS_PSS_PARAMS& pss) {
    if (!spec.pss) {
        return m.pParameter == nullptr && m.ulParameterLen == 0 ? CKR_OK
                                                                : CKR_MECHANISM_PARAM_INVALID;
    }
    if (m.pParameter == nullptr || m.ulParameterLen != sizeof(CK_RSA_PKCS_PSS_PARAMS)) {
        return CKR_MECHANISM_PARAM_INVALID;
    }
    std::memcpy(&pss, m.pParameter, sizeof pss);
    if (md_of(pss.hashAlg) == nullptr || hash_of_mgf(pss.mgf) == 0) {
        return CKR_MECHANISM_PARAM_INVALID;
    }
    // The hashing PSS mechanisms fix the hash; the parameters must agree (2.40 curr. mech.
    // section 2.1.15).
    if (spec.digest != 0 && pss.hashAlg != spec.digest) {
        return CKR_MECHANISM_PARAM_INVALID;
    }
    return CKR_OK;
}

std::size_t signature_size(EVP_PKEY* key) {
    if (EVP_PKEY_is_a(key, "RSA") == 1) {
        return static_cast<std::size_t>(EVP_PKEY_get_size(key));
    }
    return 2 * static_cast<std::size_t>((EVP_PKEY_get_bits(key) + 7) / 8);
}

struct CtxFree {
    void operator()(EVP_PKEY_CTX* c) const noexcept { EVP_PKEY_CTX_free(c); }
    void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};

bool set_pss(EVP_PKEY_CTX* ctx, const CK_RSA_PKCS_PSS_PARAMS& pss) {
    return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md_of(hash_of_mgf(pss.mgf))) == 1 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, static_cast<int>(pss.sLen)) == 1;
}

// DER ECDSA-Sig-Value → r || s, each left-padded to the field size (PKCS#11 format).
CK_RV ecdsa_raw(const Bytes& der, std::size_t half, Bytes& out) {
    const unsigned char* p = der.data();
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
    if (sig == nullptr) {
        return CKR_GENERAL_ERROR;
    }
    out.assign(2 * half, 0);
    const int half_int = static_cast<int>(half);
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), out.data(), half_int);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), out.data() + half, half_int);
    ECDSA_SIG_free(sig);
    return CKR_OK;
}

CK_RV compute(const SignOp& op, EVP_PKEY* key, Bytes& out) {
    const MechSpec& spec = *spec_of(op.mech);
    const bool ec = spec.key_type == CKK_EC;
    Bytes sig(static_cast<std::size_t>(EVP_PKEY_get_size(key)));
    std::size_t len = sig.size();
    if (spec.digest == 0) {
        std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(
            EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
        if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1) {
            return CKR_GENERAL_ERROR;
        }
        if (spec.mech == CKM_RSA_PKCS) {
            // No signature digest set: OpenSSL pads the input as is (DigestInfo or raw).
            if (op.data.size() + 11 > sig.size()) {
                return CKR_DATA_LEN_RANGE;
            }
            EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING);
        } else if (spec.pss) {
            const EVP_MD* md = md_of(op.pss.hashAlg);
            if (op.data.size() != static_cast<std::size_t>(EVP_MD_get_size(md))) {
                return CKR_DATA_LEN_RANGE;
            }
            if (EVP_PKEY_CTX_set_signature_md(ctx.get(), md) != 1 || !set_pss(ctx.get(), op.pss)) {
                return CKR_MECHANISM_PARAM_INVALID;
            }
        }
        if (EVP_PKEY_sign(ctx.get(), sig.data(), &len, op.data.data(), op.data.size()) != 1) {
            return spec.pss ? CKR_MECHANISM_PARAM_INVALID : CKR_GENERAL_ERROR;
        }
    } else {
        std::unique_ptr<EVP_MD_CTX, CtxFree> md_ctx(EVP_MD_CTX_new());
        EVP_PKEY_CTX* pctx = nullptr; // owned by md_ctx
        if (!md_ctx ||
            EVP_DigestSignInit(md_ctx.get(), &pctx, md_of(spec.digest), nullptr, key) != 1) {
            return CKR_GENERAL_ERROR;
        }
        if (spec.pss && !set_pss(pctx, op.pss)) {
            return CKR_MECHANISM_PARAM_INVALID;
        }
        if (EVP_DigestSign(md_ctx.get(), sig.data(), &len, op.data.data(), op.data.size()) != 1) {
            return spec.pss ? CKR_MECHANISM_PARAM_INVALID : CKR_GENERAL_ERROR;
        }
    }
    sig.resize(len);
    if (ec) {
        return ecdsa_raw(sig, signature_size(key) / 2, out);
    }
    out = std::move(sig);
    return CKR_OK;
}

// The shared tail of C_Sign and C_SignFinal: length protocol, then the signature without
// the mutex. A call ends the operation unless it only asked for the length or returned
// CKR_BUFFER_TOO_SMALL (2.40 base, section 5.12).
CK_RV finish(Call& call, Session& s, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
    State& st = call.st();
    const Object* key = find_object_any(st, s, s.sign->key);
    if (key == nullptr || !key->pkey) {
        s.sign.reset();
        return CKR_KEY_HANDLE_INVALID;
    }
    if (key->is_private() && st.tokens[s.token].login != CKU_USER) {
        s.sign.reset();
        return CKR_USER_NOT_LOGGED_IN;
    }
    const CK_ULONG size = signature_size(key->pkey.get());
    if (out == nullptr) {
        *out_len = size;
        return CKR_OK;
    }
    if (*out_len < size) {
        *out_len = size;
        return CKR_BUFFER_TOO_SMALL;
    }
    const SignOp op = std::move(*s.sign);
    s.sign.reset();
    const Pkey pkey = key->pkey;
    call.unlock();

    Bytes sig;
    if (const CK_RV rv = compute(op, pkey.get(), sig); rv != CKR_OK) {
        return rv;
    }
    std::memcpy(out, sig.data(), sig.size());
    *out_len = sig.size();
    return CKR_OK;
}

} // namespace

CK_RV C_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key) {
    Call call("C_SignInit");
    if (call.early() != CKR_OK) {
        return call.early();
    }
    State& st = call.st();
    Session* s = find_session(st, h);
    if (s == nullptr) {
        return CKR_SESSION_HANDLE_INVALID;
    }
    if (s->sign) {
        return CKR_OPERATION_ACTIVE;
    }
    if (mech == nullptr) {
        return CKR_ARGUMENTS_BAD;
    }
    const Object* o = find_object_any(st, *s, key);
    if (o == nullptr) {
        return CKR_KEY_HANDLE_INVALID;
    }
    if (o->is_private() && st.tokens[s->token].login != CKU_USER) {
        return CKR_USER_NOT_LOGGED_IN;
    }
    if (o->get_ulong(CKA_CLASS, 0) != CKO_PRIVATE_KEY || !o->get_bool(CKA_SIGN, false) ||
        !o->pkey) {
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    }
    const MechSpec* spec = spec_of(mech->mechanism);
    if (spec == nullptr || st.tokens[s->token].removed_mechanisms.count(mech->mechanism) != 0) {
        return CKR_MECHANISM_INVALID;
    }
    if (o->get_ulong(CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION) != spec->key_type) {
        return CKR_KEY_TYPE_INCONSISTENT;
    }
    SignOp op;
    op.mech = spec->mech;
    op.key = key;
    if (const CK_RV rv = check_params(*spec, *mech, op.pss); rv != CKR_OK) {
        return rv;
    }
    s->sign = std::move(op);
    return CKR_OK;
}

CK_RV C_Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
             CK_ULONG_PTR sig_len) {
    Call call("C_Sign");
    if (call.early() != CKR_OK) {
        return call.early();
    }
    if (const unsigned long delay = call.st().sign_delay_us; delay != 0) {
        call.sleep_unlocked(delay);
    }
    Session* s = find_session(call.st(), h);
    if (s == nullptr) {
        return CKR_SESSION_HANDLE_INVALID;
    }
    if (!s->sign) {
        return CKR_OPERATION_NOT_INITIALIZED;
    }
    if (sig_len == nullptr || (data == nullptr && len > 0)) {
        s->sign.reset();
        return CKR_ARGUMENTS_BAD;
    }
    if (s->sign->multipart) {
        // C_Sign cannot finish an operation that C_SignUpdate started.
        s->sign.reset();
        return CKR_OPERATION_ACTIVE;
    }
    if (data != nullptr) {
        s->sign->data.assign(data, data + len);
    } else {
        s->sign->data.clear();
    }
    return finish(call, *s, sig, sig_len);
}

CK_RV C_SignUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR part, CK_ULONG len) {
    Call call("C_SignUpdate");
    if (call.early() != CKR_OK) {
        return call.early();
    }
    Session* s = find_session(call.st(), h);
    if (s == nullptr) {
        return CKR_SESSION_HANDLE_INVALID;
    }
    if (!s->sign) {
        return CKR_OPERATION_NOT_INITIALIZED;
    }
    if (part == nullptr && len > 0) {
        s->sign.reset();
        return CKR_ARGUMENTS_BAD;
    }
    // Every mechanism here accepts multi-part input (the raw ones buffer it), as SoftHSM2
    // does; the single-part-only rule of CKM_RSA_PKCS / CKM_ECDSA is not enforced.
    if (part != nullptr) {
        s->sign->data.insert(s->sign->data.end(), part, part + len);
    }
    s->sign->multipart = true;
    return CKR_OK;
}

CK_RV C_SignFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len) {
    Call call("C_SignFinal");
    if (call.early() != CKR_OK) {
        return call.early();
    }
    if (const unsigned long delay = call.st().sign_delay_us; delay != 0) {
        call.sleep_unlocked(delay);
    }
    Session* s = find_session(call.st(), h);
    if (s == nullptr) {
        return CKR_SESSION_HANDLE_INVALID;
    }
    if (!s->sign) {
        return CKR_OPERATION_NOT_INITIALIZED;
    }
    if (sig_len == nullptr) {
        s->sign.reset();
        return CKR_ARGUMENTS_BAD;
    }
    return finish(call, *s, sig, sig_len);
}

CK_RV C_GenerateRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG len) {
    Call call("C_GenerateRandom");
    if (call.early() != CKR_OK) {
        return call.early();
    }
    if (find_session(call.st(), h) == nullptr) {
        return CKR_SESSION_HANDLE_INVALID;
    }
    if (out == nullptr && len > 0) {
        return CKR_ARGUMENTS_BAD;
    }
    if (len > static_cast<CK_ULONG>(INT_MAX)) {
        return CKR_DATA_LEN_RANGE;
    }
    call.unlock();
    return len == 0 || RAND_bytes(out, static_cast<int>(len)) == 1 ? CKR_OK : CKR_FUNCTION_FAILED;
}

} // namespace fake
