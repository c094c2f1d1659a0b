// Object functions of the fake module: search, attribute reads, copy, destroy, create.
// Semantics from PKCS#11 2.40 base, section 5.7 (C_GetAttributeValue's five cases,
// session object lifetime, visibility of private objects).
#include "fake_module.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include <cstring>

namespace fake {
namespace {

bool visible(const Object& o, const Token& t) {
    return !o.is_private() || t.login == CKU_USER;
}

bool matches(const Object& o, const CK_ATTRIBUTE* tmpl, CK_ULONG n) {
    for (CK_ULONG i = 0; i < n; ++i) {
        const CK_ATTRIBUTE& a = tmpl[i];
        // A sensitive value cannot be compared without revealing it bit by bit.
        if (o.sensitive.contains(a.type)) {
            return false;
        }
        const Bytes* v = o.get(a.type);
        if (v == nullptr || v->size() != a.ulValueLen) {
            return false;
        }
        if (a.ulValueLen != 0 && std::memcmp(v->data(), a.pValue, a.ulValueLen) != 0) {
            return false;
        }
    }
    return true;
}

CK_RV check_template(const CK_ATTRIBUTE* tmpl, CK_ULONG n) {
    if (tmpl == nullptr && n > 0) {
        return CKR_ARGUMENTS_BAD;
    }
    for (CK_ULONG i = 0; i < n; ++i) {
        if (tmpl[i].pValue == nullptr && tmpl[i].ulValueLen > 0) {
            return CKR_ARGUMENTS_BAD;
        }
    }
    return CKR_OK;
}

Bytes bytes_of(const CK_ATTRIBUTE& a) {
    const auto* p = static_cast<const unsigned char*>(a.pValue);
    return p == nullptr ? Bytes{} : Bytes(p, p + a.ulValueLen);
}

// Builds the signing key of a C_CreateObject'ed private key from its attributes and moves
// the secret attributes out of sight.
CK_RV private_key_from_attributes(Object& o) {
    const CK_ULONG type = o.get_ulong(CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION);
    std::vector<std::pair<const char*, CK_ATTRIBUTE_TYPE>> fields;
    const char* alg = nullptr;
    if (type == CKK_RSA) {
        alg = "RSA";
        fields = {{OSSL_PKEY_PARAM_RSA_N, CKA_MODULUS},
                  {OSSL_PKEY_PARAM_RSA_E, CKA_PUBLIC_EXPONENT},
                  {OSSL_PKEY_PARAM_RSA_D, CKA_PRIVATE_EXPONENT},
                  {OSSL_PKEY_PARAM_RSA_FACTOR1, CKA_PRIME_1},
                  {OSSL_PKEY_PARAM_RSA_FACTOR2, CKA_PRIME_2},
                  {OSSL_PKEY_PARAM_RSA_EXPONENT1, CKA_EXPONENT_1},
                  {OSSL_PKEY_PARAM_RSA_EXPONENT2, CKA_EXPONENT_2},
                  {OSSL_PKEY_PARAM_RSA_COEFFICIENT1, CKA_COEFFICIENT}};
        if (o.get(CKA_MODULUS) == nullptr || o.get(CKA_PUBLIC_EXPONENT) == nullptr ||
            o.get(CKA_PRIVATE_EXPONENT) == nullptr) {
            return CKR_TEMPLATE_INCOMPLETE;
        }
        o.sensitive = {CKA_PRIVATE_EXPONENT, CKA_PRIME_1,    CKA_PRIME_2,
                       CKA_EXPONENT_1,       CKA_EXPONENT_2, CKA_COEFFICIENT};
    } else if (type == CKK_EC) {
        alg = "EC";
        static const Bytes p256 = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
        const Bytes* params = o.get(CKA_EC_PARAMS);
        if (params == nullptr || o.get(CKA_VALUE) == nullptr) {
            return CKR_TEMPLATE_INCOMPLETE;
        }
        if (*params != p256) {
            return CKR_CURVE_NOT_SUPPORTED;
        }
        fields = {{OSSL_PKEY_PARAM_PRIV_KEY, CKA_VALUE}};
        o.sensitive = {CKA_VALUE};
    } else {
        return type == CK_UNAVAILABLE_INFORMATION ? CKR_TEMPLATE_INCOMPLETE
                                                  : CKR_ATTRIBUTE_VALUE_INVALID;
    }

    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    std::vector<BIGNUM*> bns;
    if (type == CKK_EC) {
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0);
    }
    for (const auto& [name, attr] : fields) {
        if (const Bytes* v = o.get(attr)) {
            bns.push_back(BN_bin2bn(v->data(), static_cast<int>(v->size()), nullptr));
            OSSL_PARAM_BLD_push_BN(bld, name, bns.back());
        }
    }
    OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, alg, nullptr);
    EVP_PKEY* key = nullptr;
    const bool ok = ctx != nullptr && params != nullptr && EVP_PKEY_fromdata_init(ctx) == 1 &&
                    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params) == 1;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    for (BIGNUM* bn : bns) {
        BN_clear_free(bn);
    }
    if (!ok) {
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    o.pkey = Pkey(key, PkeyFree{});
    if (o.get_bool(CKA_SENSITIVE, true)) {
        for (const CK_ATTRIBUTE_TYPE t : o.sensitive) {
            o.attrs.erase(t);
        }
    } else {
        o.sensitive.clear();
    }
    return CKR_OK;
}

} // namespace

CK_RV C_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n) {
    Call call("C_FindObjectsInit");
    if (call.early() != CKR_OK) {
        return call.early();
    }
    State& st = call.st();
    Session* s = find_session(st, h);
    if (s == nullptr) {
        return CKR_SESSION_HANDLE_INVALID;
    }
    if (s->find) {
        return CKR_OPERATION_ACTIVE;
    }
    if (const CK_RV rv = check_template(tmpl, n); rv != CKR_OK) {
        return rv;
    }
    FindOp op;
    const Token& t = st.tokens[s->token];
    for (const auto& [handle, o] : t.objects) {
        if (visible(o, t) && matches(o, tmpl, n)) {
            op.hits.push_back(handle);
        }
    }
    s->find = std::move(op);
    return CKR_OK;
}

CK_RV C_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR out, CK_ULONG max, CK_ULONG_PTR n) {
    Call call("C_FindObjects");
    if (call.early() != CKR_OK) {
        return call.early();
    }
    State& st = call.st();
    Session* s = find_session(st, h);
    if (s == nullptr) {
        return CKR_SESSION_HANDLE_INVALID;
    }
    if (!s->find) {
        return CKR_OPERATION_NOT_INITIALIZED;
    }
    if (out == nullptr || n == nullptr) {
        return CKR_ARGUMENTS_BAD;
    }
    FindOp& op = *s->find;
    CK_ULONG got = 0;
    while (got < max && op.next < op.hits.size()) {
        const CK_OBJECT_HANDLE candidate = op.hits[op.next++];
        // Objects destroyed since C_FindObjectsInit are not reported.
        if (find_object(st, *s, candidate) != nullptr) {
            out[got++] = candidate;
        }
    }
    *n = got;
    return CKR_OK;
}

CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE h) {
    Call call("C_FindObjectsFinal");
    if (call.early() != CKR_OK) {
        return call.early();
    }
    Session* s = find_session(call.st(), h);
    if (s == nullptr) {
        return CKR_SESSION_HANDLE_INVALID;
    }
    if (!s->find) {
        return CKR_OPERATION_NOT_INITIALIZED;
    }
    s->find.reset();
    return CKR_OK;
}

CK_RV C_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl,
                          CK_ULONG n) {
    Call call("C_GetAttributeValue");
    if (call.early() != CKR_OK) {
        return call.early();
    }
    State& st = call.st();
    const Session* s = find_session(st, h);
    if (s == nullptr) {
        return CKR_SESSION_HANDLE_INVALID;
    }
    const Object* o = find_object(st, *s, obj);
    if (o == nullptr) {
        return CKR_OBJECT_HANDLE_INVALID;
    }
    if (tmpl == nullptr && n > 0) {
        return CKR_ARGUMENTS_BAD;
    }
    // Every entry is processed even after a failure; the first failure is returned (the
    // spec leaves the choice among several open).
    CK_RV rv = CKR_OK;
    const auto fail = [&rv](CK_ATTRIBUTE& a, CK_RV why) {
        a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
        if (rv == CKR_OK) {
            rv = why;
        }
    };
    for (CK_ULONG i = 0; i < n; ++i) {
        CK_ATTRIBUTE& a = tmpl[i];
        const Bytes* v = o->get(a.type);
        if (o->sensitive.contains(a.type)) {
            fail(a, CKR_ATTRIBUTE_SENSITIVE);
        } else if (v == nullptr) {
            fail(a, CKR_ATTRIBUTE_TYPE_INVALID);
        } else if (a.pValue == nullptr) {
            a.ulValueLen = v->size();
        } else if (a.ulValueLen >= v->size()) {
            if (!v->empty()) {
                std::memcpy(a.pValue, v->data(), v->size());
            }
            a.ulValueLen = v->size();
        } else {
            fail(a, CKR_BUFFER_TOO_SMALL);
        }
    }
    return rv;
}

CK_RV C_CopyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n,
                   CK_OBJECT_HANDLE_PTR out) {
    Call call("C_CopyObject");
    if (call.early() != CKR_OK) {
        return call.early();
    }
    State& st = call.st();
    const Session* s = find_session(st, h);
    if (s == nullptr) {
        return CKR_SESSION_HANDLE_INVALID;
    }
    const Object* o = find_object(st, *s, obj);
    if (o == nullptr) {
        return CKR_OBJECT_HANDLE_INVALID;
    }
    if (out == nullptr) {
        return CKR_ARGUMENTS_BAD;
    }
    if (const CK_RV rv = check_template(tmpl, n); rv != CKR_OK) {
        return rv;
    }
    Object copy = *o;
    copy.set_bool(CKA_TOKEN, false);
    for (CK_ULONG i = 0; i < n; ++i) {
        const CK_ATTRIBUTE& a = tmpl[i];
        switch (a.type) {
        case CKA_TOKEN:
        case CKA_PRIVATE:
        case CKA_MODIFIABLE:
            if (a.ulValueLen != sizeof(CK_BBOOL)) {
                return CKR_ATTRIBUTE_VALUE_INVALID;
            }
            copy.set_bytes(a.type, bytes_of(a));
            break;
        case CKA_LABEL:
        case CKA_ID:
            copy.set_bytes(a.type, bytes_of(a));
            break;
        default:
            return CKR_ATTRIBUTE_READ_ONLY;
        }
    }
    const bool token_object = copy.is_token();
    if (token_object && (s->flags & CKF_RW_SESSION) == 0) {
        return CKR_SESSION_READ_ONLY;
    }
    copy.owner = token_object ? 0 : h;
    *out = st.add_object(s->token, std::move(copy));
    return CKR_OK;
}

CK_RV C_DestroyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj) {
    Call call("C_DestroyObject");
    if (call.early() != CKR_OK) {
        return call.early();
    }
    State& st = call.st();
    const Session* s = find_session(st, h);
    if (s == nullptr) {
        return CKR_SESSION_HANDLE_INVALID;
    }
    const Object* o = find_object(st, *s, obj);
    if (o == nullptr) {
        return CKR_OBJECT_HANDLE_INVALID;
    }
    if (o->is_token() && (s->flags & CKF_RW_SESSION) == 0) {
        return CKR_SESSION_READ_ONLY;
    }
    st.tokens[s->token].objects.erase(obj);
    return CKR_OK;
}

CK_RV C_CreateObject(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n,
                     CK_OBJECT_HANDLE_PTR out) {
    Call call("C_CreateObject");
    if (call.early() != CKR_OK) {
        return call.early();
    }
    State& st = call.st();
    const Session* s = find_session(st, h);
    if (s == nullptr) {
        return CKR_SESSION_HANDLE_INVALID;
    }
    if (out == nullptr) {
        return CKR_ARGUMENTS_BAD;
    }
    if (const CK_RV rv = check_template(tmpl, n); rv != CKR_OK) {
        return rv;
    }
    Object o;
    for (CK_ULONG i = 0; i < n; ++i) {
        o.set_bytes(tmpl[i].type, bytes_of(tmpl[i]));
    }
    const CK_ULONG cls = o.get_ulong(CKA_CLASS, CK_UNAVAILABLE_INFORMATION);
    if (cls == CK_UNAVAILABLE_INFORMATION) {
        return CKR_TEMPLATE_INCOMPLETE;
    }
    if (cls != CKO_DATA && cls != CKO_CERTIFICATE && cls != CKO_PUBLIC_KEY &&
        cls != CKO_PRIVATE_KEY) {
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    if (o.get(CKA_TOKEN) == nullptr) {
        o.set_bool(CKA_TOKEN, false);
    }
    if (o.get(CKA_PRIVATE) == nullptr) {
        o.set_bool(CKA_PRIVATE, cls == CKO_PRIVATE_KEY);
    }
    if (cls == CKO_CERTIFICATE && o.get(CKA_VALUE) == nullptr) {
        return CKR_TEMPLATE_INCOMPLETE;
    }
    if (cls == CKO_PRIVATE_KEY) {
        if (const CK_RV rv = private_key_from_attributes(o); rv != CKR_OK) {
            return rv;
        }
        if (o.get(CKA_SIGN) == nullptr) {
            o.set_bool(CKA_SIGN, true);
        }
    }
    const Token& t = st.tokens[s->token];
    if (o.is_private() && t.login != CKU_USER) {
        return CKR_USER_NOT_LOGGED_IN;
    }
    if (o.is_token() && (s->flags & CKF_RW_SESSION) == 0) {
        return CKR_SESSION_READ_ONLY;
    }
    o.owner = o.is_token() ? 0 : h;
    *out = st.add_object(s->token, std::move(o));
    return CKR_OK;
}

} // namespace fake
