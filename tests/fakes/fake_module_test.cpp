// Drives the fake PKCS#11 module through its raw function list, as the provider will, and
// checks the behaviour the provider's tests rely on: initialisation and fork rules, PIN
// counter, object search and attributes, session object lifetime, verifiable signatures,
// fault injection, token removal and slot renumbering.
#include "fake_control.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

// Last and on its own: p11-kit's compatibility macros (value, count, ...) must not reach
// the standard headers, and are dropped once the structs are declared.
#include <p11-kit/pkcs11.h>
#undef value
#undef count
#undef params
#undef parameter
#undef reserved
#undef slot_id

namespace {

using Bytes = std::vector<unsigned char>;

constexpr CK_SLOT_ID kSlot = 7;
constexpr CK_SLOT_ID kOtherSlot = 42;

FakeControl& control() {
    static FakeControl ctl(HSMP_FAKE_SO); // stays loaded for the whole test binary
    return ctl;
}

struct PkeyFree {
    void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

PkeyPtr pkey_from(const char* alg, OSSL_PARAM_BLD* bld) {
    OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, alg, nullptr);
    EVP_PKEY* key = nullptr;
    EXPECT_EQ(EVP_PKEY_fromdata_init(ctx), 1);
    EXPECT_EQ(EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params), 1);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return PkeyPtr(key);
}

class FakeModule : public testing::Test {
protected:
    void SetUp() override {
        control().fake_reset();
        auto get = reinterpret_cast<CK_C_GetFunctionList>(control().symbol("C_GetFunctionList"));
        ASSERT_NE(get, nullptr);
        ASSERT_EQ(get(&m_f), CKR_OK);
    }
    void TearDown() override { control().fake_reset(); }

    void init() { ASSERT_EQ(m_f->C_Initialize(nullptr), CKR_OK); }

    CK_SESSION_HANDLE open(CK_SLOT_ID slot = kSlot, CK_FLAGS flags = CKF_SERIAL_SESSION) {
        CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
        EXPECT_EQ(m_f->C_OpenSession(slot, flags, nullptr, nullptr, &h), CKR_OK);
        return h;
    }

    CK_RV login(CK_SESSION_HANDLE h, const char* pin = "1234") {
        std::string p(pin);
        return m_f->C_Login(h, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(p.data()), p.size());
    }

    CK_FLAGS token_flags(CK_SLOT_ID slot = kSlot) {
        CK_TOKEN_INFO info{};
        EXPECT_EQ(m_f->C_GetTokenInfo(slot, &info), CKR_OK);
        return info.flags;
    }

    std::vector<CK_OBJECT_HANDLE> find(CK_SESSION_HANDLE h, std::vector<CK_ATTRIBUTE> tmpl) {
        EXPECT_EQ(m_f->C_FindObjectsInit(h, tmpl.data(), tmpl.size()), CKR_OK);
        std::vector<CK_OBJECT_HANDLE> all;
        CK_OBJECT_HANDLE batch[2];
        CK_ULONG n = 0;
        do {
            EXPECT_EQ(m_f->C_FindObjects(h, batch, 2, &n), CKR_OK);
            all.insert(all.end(), batch, batch + n);
        } while (n != 0);
        EXPECT_EQ(m_f->C_FindObjectsFinal(h), CKR_OK);
        return all;
    }

    CK_OBJECT_HANDLE find_one(CK_SESSION_HANDLE h, CK_OBJECT_CLASS cls, const char* label) {
        std::vector<CK_ATTRIBUTE> tmpl = {
            {CKA_CLASS, &cls, sizeof cls},
            {CKA_LABEL, const_cast<char*>(label), std::strlen(label)},
        };
        const auto found = find(h, tmpl);
        EXPECT_EQ(found.size(), 1U) << label;
        return found.empty() ? CK_INVALID_HANDLE : found[0];
    }

    Bytes attr(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type) {
        CK_ATTRIBUTE a{type, nullptr, 0};
        EXPECT_EQ(m_f->C_GetAttributeValue(h, o, &a, 1), CKR_OK);
        Bytes out(a.ulValueLen);
        a.pValue = out.data();
        EXPECT_EQ(m_f->C_GetAttributeValue(h, o, &a, 1), CKR_OK);
        return out;
    }

    Bytes sign(CK_SESSION_HANDLE h, CK_MECHANISM mech, CK_OBJECT_HANDLE key, Bytes data) {
        EXPECT_EQ(m_f->C_SignInit(h, &mech, key), CKR_OK);
        CK_ULONG len = 0;
        EXPECT_EQ(m_f->C_Sign(h, data.data(), data.size(), nullptr, &len), CKR_OK);
        Bytes sig(len);
        EXPECT_EQ(m_f->C_Sign(h, data.data(), data.size(), sig.data(), &len), CKR_OK);
        sig.resize(len);
        return sig;
    }

    PkeyPtr rsa_public(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE pub) {
        const Bytes n = attr(h, pub, CKA_MODULUS);
        const Bytes e = attr(h, pub, CKA_PUBLIC_EXPONENT);
        BIGNUM* bn_n = BN_bin2bn(n.data(), static_cast<int>(n.size()), nullptr);
        BIGNUM* bn_e = BN_bin2bn(e.data(), static_cast<int>(e.size()), nullptr);
        OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n);
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e);
        PkeyPtr key = pkey_from("RSA", bld);
        BN_free(bn_n);
        BN_free(bn_e);
        return key;
    }

    PkeyPtr ec_public(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE pub) {
        const Bytes der = attr(h, pub, CKA_EC_POINT);
        EXPECT_EQ(der.size(), 67U); // OCTET STRING (04 41) around an uncompressed point
        EXPECT_EQ(der[0], 0x04);
        OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0);
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, der.data() + 2,
                                         der.size() - 2);
        return pkey_from("EC", bld);
    }

    CK_FUNCTION_LIST_PTR m_f = nullptr;
};

const Bytes kMessage = {'h', 'e', 'l', 'l', 'o', ' ', 'h', 's', 'm'};

Bytes sha256(const Bytes& in) {
    Bytes out(32);
    unsigned int len = 0;
    EVP_Digest(in.data(), in.size(), out.data(), &len, EVP_sha256(), nullptr);
    return out;
}

// Verifies `sig` over `msg` with digest `md` (nullptr: `msg` is the already-formed input).
bool verify(EVP_PKEY* key, const EVP_MD* md, const Bytes& msg, const Bytes& sig, int padding,
            int salt = 0) {
    EVP_MD_CTX* mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX* pctx = nullptr;
    bool ok = EVP_DigestVerifyInit(mctx, &pctx, md, nullptr, key) == 1;
    if (ok && padding != 0) {
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, padding) == 1;
        if (ok && padding == RSA_PKCS1_PSS_PADDING) {
            ok = EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt) == 1;
        }
    }
    ok = ok && EVP_DigestVerify(mctx, sig.data(), sig.size(), msg.data(), msg.size()) == 1;
    EVP_MD_CTX_free(mctx);
    return ok;
}

// PKCS#11 r || s → DER ECDSA-Sig-Value for OpenSSL.
Bytes ecdsa_der(const Bytes& raw) {
    ECDSA_SIG* sig = ECDSA_SIG_new();
    const int half = static_cast<int>(raw.size() / 2);
    ECDSA_SIG_set0(sig, BN_bin2bn(raw.data(), half, nullptr),
                   BN_bin2bn(raw.data() + half, half, nullptr));
    Bytes der(static_cast<std::size_t>(i2d_ECDSA_SIG(sig, nullptr)));
    unsigned char* p = der.data();
    i2d_ECDSA_SIG(sig, &p);
    ECDSA_SIG_free(sig);
    return der;
}

bool verify_ecdsa_digest(EVP_PKEY* key, const Bytes& digest, const Bytes& raw) {
    const Bytes der = ecdsa_der(raw);
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key, nullptr);
    const bool ok = EVP_PKEY_verify_init(ctx) == 1 &&
                    EVP_PKEY_verify(ctx, der.data(), der.size(), digest.data(), digest.size()) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

// --- initialisation ---------------------------------------------------------------------

TEST_F(FakeModule, InitialiseAndFinaliseFollowTheSpec) {
    CK_INFO info{};
    EXPECT_EQ(m_f->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
    EXPECT_EQ(m_f->C_Finalize(nullptr), CKR_CRYPTOKI_NOT_INITIALIZED);
    EXPECT_EQ(control().fake_initialized(), 0);
    init();
    EXPECT_EQ(control().fake_initialized(), 1);
    EXPECT_EQ(m_f->C_Initialize(nullptr), CKR_CRYPTOKI_ALREADY_INITIALIZED);
    int not_null = 0;
    EXPECT_EQ(m_f->C_Finalize(&not_null), CKR_ARGUMENTS_BAD);
    EXPECT_EQ(m_f->C_Finalize(nullptr), CKR_OK);
    EXPECT_EQ(m_f->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
}

TEST_F(FakeModule, InitArgsAreCheckedAndRecorded) {
    CK_C_INITIALIZE_ARGS args{};
    args.CreateMutex = [](CK_VOID_PTR_PTR) -> CK_RV { return CKR_OK; };
    EXPECT_EQ(m_f->C_Initialize(&args), CKR_ARGUMENTS_BAD); // one of four functions

    CK_C_INITIALIZE_ARGS os{};
    os.flags = CKF_OS_LOCKING_OK;
    std::string reserved = "hsmp-options=yes";
    os.pReserved = reserved.data();
    EXPECT_EQ(m_f->C_Initialize(&os), CKR_OK);
    EXPECT_STREQ(control().fake_init_args(), "hsmp-options=yes");
}

TEST_F(FakeModule, InfoIsBlankPadded) {
    init();
    CK_INFO info{};
    ASSERT_EQ(m_f->C_GetInfo(&info), CKR_OK);
    EXPECT_EQ(info.cryptokiVersion.major, 2);
    EXPECT_EQ(info.cryptokiVersion.minor, 40);
    const std::string manufacturer(reinterpret_cast<char*>(info.manufacturerID), 32);
    EXPECT_EQ(manufacturer, "hsmp fake" + std::string(23, ' '));
    const std::string description(reinterpret_cast<char*>(info.libraryDescription), 32);
    EXPECT_EQ(description, "hsmp fake module" + std::string(16, ' '));
}

TEST_F(FakeModule, GetInterfaceOffersPkcs11Only) {
    struct Iface {
        CK_UTF8CHAR* name;
        void* functions;
        CK_FLAGS flags;
    };
    using GetInterface = CK_RV (*)(CK_UTF8CHAR*, CK_VERSION*, Iface**, CK_FLAGS);
    auto get = reinterpret_cast<GetInterface>(control().symbol("C_GetInterface"));
    ASSERT_NE(get, nullptr);
    Iface* iface = nullptr;
    ASSERT_EQ(get(nullptr, nullptr, &iface, 0), CKR_OK);
    EXPECT_STREQ(reinterpret_cast<char*>(iface->name), "PKCS 11");
    EXPECT_EQ(iface->functions, m_f);
    EXPECT_EQ(iface->flags, 0U);
    CK_UTF8CHAR pkcs11[] = "PKCS 11";
    CK_VERSION v240{2, 40};
    EXPECT_EQ(get(pkcs11, &v240, &iface, 0), CKR_OK);
    CK_UTF8CHAR vendor[] = "Vendor X";
    EXPECT_EQ(get(vendor, nullptr, &iface, 0), CKR_ARGUMENTS_BAD);
    CK_VERSION v30{3, 0};
    EXPECT_EQ(get(pkcs11, &v30, &iface, 0), CKR_ARGUMENTS_BAD);
    EXPECT_EQ(get(nullptr, nullptr, &iface, 1), CKR_ARGUMENTS_BAD); // fork-safe not offered
}

TEST_F(FakeModule, V2VariantExportsOnlyGetFunctionList) {
    void* v2 = dlopen(HSMP_FAKE_V2_SO, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(v2, nullptr) << dlerror();
    EXPECT_NE(dlsym(v2, "C_GetFunctionList"), nullptr);
    EXPECT_EQ(dlsym(v2, "C_GetInterface"), nullptr);
    EXPECT_EQ(dlsym(v2, "C_Login"), nullptr); // only reachable through the list
    dlclose(v2);
}

TEST_F(FakeModule, EveryFunctionSlotIsFilled) {
    const auto* slots = reinterpret_cast<void* const*>(&m_f->C_Initialize);
    const std::size_t n =
        (sizeof(CK_FUNCTION_LIST) - offsetof(CK_FUNCTION_LIST, C_Initialize)) / sizeof(void*);
    EXPECT_EQ(n, 68U);
    for (std::size_t i = 0; i < n; ++i) {
        EXPECT_NE(slots[i], nullptr) << "slot " << i;
    }
    EXPECT_EQ(m_f->C_EncryptInit(1, nullptr, 1), CKR_FUNCTION_NOT_SUPPORTED);
    EXPECT_EQ(m_f->C_GenerateKeyPair(1, nullptr, nullptr, 0, nullptr, 0, nullptr, nullptr),
              CKR_FUNCTION_NOT_SUPPORTED);
}

// --- slots and tokens ---------------------------------------------------------------------

TEST_F(FakeModule, SlotListUsesTheTwoCallProtocol) {
    init();
    CK_ULONG n = 0;
    ASSERT_EQ(m_f->C_GetSlotList(CK_TRUE, nullptr, &n), CKR_OK);
    EXPECT_EQ(n, 2U);
    CK_SLOT_ID ids[2] = {};
    n = 1;
    EXPECT_EQ(m_f->C_GetSlotList(CK_TRUE, ids, &n), CKR_BUFFER_TOO_SMALL);
    EXPECT_EQ(n, 2U);
    ASSERT_EQ(m_f->C_GetSlotList(CK_TRUE, ids, &n), CKR_OK);
    EXPECT_EQ(ids[0], kSlot);
    EXPECT_EQ(ids[1], kOtherSlot);
}

TEST_F(FakeModule, TokenInfoDescribesTheDefaultTokens) {
    init();
    CK_TOKEN_INFO info{};
    ASSERT_EQ(m_f->C_GetTokenInfo(kSlot, &info), CKR_OK);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(info.label), 32),
              "fake-token" + std::string(22, ' '));
    EXPECT_EQ(std::string(reinterpret_cast<char*>(info.serialNumber), 16),
              "FAKE0001" + std::string(8, ' '));
    EXPECT_EQ(std::string(reinterpret_cast<char*>(info.model), 16), "fake" + std::string(12, ' '));
    const CK_FLAGS want =
        CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED | CKF_RNG;
    EXPECT_EQ(info.flags & want, want);
    EXPECT_EQ(info.ulMaxSessionCount, 32U);
    EXPECT_EQ(info.ulSessionCount, 0U);
    open();
    ASSERT_EQ(m_f->C_GetTokenInfo(kSlot, &info), CKR_OK);
    EXPECT_EQ(info.ulSessionCount, 1U);
    ASSERT_EQ(m_f->C_GetTokenInfo(kOtherSlot, &info), CKR_OK);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(info.label), 11), "other-token");
    EXPECT_EQ(m_f->C_GetTokenInfo(8, &info), CKR_SLOT_ID_INVALID);

    control().fake_set_token_flags(CKF_WRITE_PROTECTED, CKF_RNG);
    EXPECT_EQ(token_flags() & (CKF_WRITE_PROTECTED | CKF_RNG), CKF_WRITE_PROTECTED);
}

TEST_F(FakeModule, MechanismsAreListed) {
    init();
    CK_ULONG n = 0;
    ASSERT_EQ(m_f->C_GetMechanismList(kSlot, nullptr, &n), CKR_OK);
    std::vector<CK_MECHANISM_TYPE> mechs(n);
    ASSERT_EQ(m_f->C_GetMechanismList(kSlot, mechs.data(), &n), CKR_OK);
    EXPECT_NE(std::find(mechs.begin(), mechs.end(), CKM_ECDSA_SHA256), mechs.end());
    CK_MECHANISM_INFO info{};
    ASSERT_EQ(m_f->C_GetMechanismInfo(kSlot, CKM_SHA256_RSA_PKCS_PSS, &info), CKR_OK);
    EXPECT_NE(info.flags & CKF_SIGN, 0U);
    EXPECT_EQ(m_f->C_GetMechanismInfo(kSlot, CKM_AES_GCM, &info), CKR_MECHANISM_INVALID);
}

TEST_F(FakeModule, MechanismsCanBeRemovedAndReflaggedPerToken) {
    init();
    auto listed = [&](CK_SLOT_ID slot) {
        CK_ULONG n = 0;
        EXPECT_EQ(m_f->C_GetMechanismList(slot, nullptr, &n), CKR_OK);
        std::vector<CK_MECHANISM_TYPE> mechs(n);
        EXPECT_EQ(m_f->C_GetMechanismList(slot, mechs.data(), &n), CKR_OK);
        mechs.resize(n);
        return mechs;
    };
    control().fake_remove_mechanism(kSlot, CKM_ECDSA);
    control().fake_set_mechanism_flags(0, CKM_RSA_PKCS, CKF_VERIFY);
    const auto here = listed(kSlot);
    EXPECT_EQ(std::find(here.begin(), here.end(), CKM_ECDSA), here.end());
    const auto there = listed(kOtherSlot);
    EXPECT_NE(std::find(there.begin(), there.end(), CKM_ECDSA), there.end());
    CK_MECHANISM_INFO info{};
    EXPECT_EQ(m_f->C_GetMechanismInfo(kSlot, CKM_ECDSA, &info), CKR_MECHANISM_INVALID);
    ASSERT_EQ(m_f->C_GetMechanismInfo(kOtherSlot, CKM_RSA_PKCS, &info), CKR_OK);
    EXPECT_EQ(info.flags, CKF_VERIFY);
    // A removed mechanism cannot be used either.
    const CK_SESSION_HANDLE h = open();
    ASSERT_EQ(login(h), CKR_OK);
    CK_MECHANISM mech{CKM_ECDSA, nullptr, 0};
    EXPECT_EQ(m_f->C_SignInit(h, &mech, find_one(h, CKO_PRIVATE_KEY, "ec")), CKR_MECHANISM_INVALID);
    // fake_reset brings them back.
    control().fake_reset();
    init();
    const auto again = listed(kSlot);
    EXPECT_NE(std::find(again.begin(), again.end(), CKM_ECDSA), again.end());
}

TEST_F(FakeModule, TokenRemovalInvalidatesSessions) {
    init();
    const CK_SESSION_HANDLE h = open();
    ASSERT_EQ(login(h), CKR_OK);
    control().fake_remove_token(kSlot);
    CK_SESSION_INFO si{};
    EXPECT_EQ(m_f->C_GetSessionInfo(h, &si), CKR_SESSION_HANDLE_INVALID);
    EXPECT_EQ(control().fake_open_sessions(), 0U);
    CK_ULONG n = 2;
    CK_SLOT_ID ids[2] = {};
    ASSERT_EQ(m_f->C_GetSlotList(CK_TRUE, ids, &n), CKR_OK);
    EXPECT_EQ(n, 1U);
    EXPECT_EQ(ids[0], kOtherSlot);
    n = 2;
    ASSERT_EQ(m_f->C_GetSlotList(CK_FALSE, ids, &n), CKR_OK);
    EXPECT_EQ(n, 2U);
    CK_TOKEN_INFO ti{};
    EXPECT_EQ(m_f->C_GetTokenInfo(kSlot, &ti), CKR_TOKEN_NOT_PRESENT);
    CK_SESSION_HANDLE again = 0;
    EXPECT_EQ(m_f->C_OpenSession(kSlot, CKF_SERIAL_SESSION, nullptr, nullptr, &again),
              CKR_TOKEN_NOT_PRESENT);

    control().fake_insert_token(kSlot);
    const CK_SESSION_HANDLE fresh = open();
    ASSERT_EQ(m_f->C_GetSessionInfo(fresh, &si), CKR_OK);
    EXPECT_EQ(si.state, CKS_RO_PUBLIC_SESSION); // the login went with the token
}

TEST_F(FakeModule, RenumberingGivesNewSlotIdsOnEveryInitialize) {
    control().fake_renumber_slots_on_init(1);
    init();
    CK_SLOT_ID ids[2] = {};
    CK_ULONG n = 2;
    ASSERT_EQ(m_f->C_GetSlotList(CK_TRUE, ids, &n), CKR_OK);
    EXPECT_EQ(ids[0], 107U);
    EXPECT_EQ(ids[1], 142U);
    const CK_SESSION_HANDLE h = open(ids[0]);
    const CK_OBJECT_HANDLE cert = find_one(h, CKO_CERTIFICATE, "rsa");
    ASSERT_EQ(m_f->C_Finalize(nullptr), CKR_OK);
    init();
    n = 2;
    ASSERT_EQ(m_f->C_GetSlotList(CK_TRUE, ids, &n), CKR_OK);
    EXPECT_EQ(ids[0], 207U);
    CK_TOKEN_INFO ti{};
    EXPECT_EQ(m_f->C_GetTokenInfo(107, &ti), CKR_SLOT_ID_INVALID);
    const CK_SESSION_HANDLE h2 = open(ids[0]);
    CK_ATTRIBUTE a{CKA_VALUE, nullptr, 0};
    EXPECT_EQ(m_f->C_GetAttributeValue(h2, cert, &a, 1), CKR_OBJECT_HANDLE_INVALID);
    EXPECT_NE(find_one(h2, CKO_CERTIFICATE, "rsa"), CK_INVALID_HANDLE);
}

// --- sessions and login ---------------------------------------------------------------------

TEST_F(FakeModule, SessionRulesAndLimits) {
    init();
    CK_SESSION_HANDLE h = 0;
    EXPECT_EQ(m_f->C_OpenSession(kSlot, 0, nullptr, nullptr, &h),
              CKR_SESSION_PARALLEL_NOT_SUPPORTED);
    control().fake_set_max_sessions(2);
    const CK_SESSION_HANDLE a = open();
    open();
    EXPECT_EQ(m_f->C_OpenSession(kSlot, CKF_SERIAL_SESSION, nullptr, nullptr, &h),
              CKR_SESSION_COUNT);
    open(kOtherSlot); // the limit is per token
    EXPECT_EQ(control().fake_open_sessions(), 3U);
    EXPECT_EQ(m_f->C_CloseSession(a), CKR_OK);
    EXPECT_EQ(m_f->C_CloseSession(a), CKR_SESSION_HANDLE_INVALID);
    EXPECT_EQ(m_f->C_OpenSession(kSlot, CKF_SERIAL_SESSION, nullptr, nullptr, &h), CKR_OK);
    EXPECT_EQ(m_f->C_CloseAllSessions(kSlot), CKR_OK);
    EXPECT_EQ(control().fake_open_sessions(), 1U);
}

TEST_F(FakeModule, LoginIsPerTokenAndEndsWithTheLastSession) {
    init();
    const CK_SESSION_HANDLE ro = open();
    const CK_SESSION_HANDLE rw = open(kSlot, CKF_SERIAL_SESSION | CKF_RW_SESSION);
    CK_SESSION_INFO si{};
    ASSERT_EQ(m_f->C_GetSessionInfo(ro, &si), CKR_OK);
    EXPECT_EQ(si.state, CKS_RO_PUBLIC_SESSION);
    EXPECT_EQ(si.slotID, kSlot);
    ASSERT_EQ(login(ro), CKR_OK);
    EXPECT_EQ(login(rw), CKR_USER_ALREADY_LOGGED_IN);
    ASSERT_EQ(m_f->C_GetSessionInfo(rw, &si), CKR_OK);
    EXPECT_EQ(si.state, CKS_RW_USER_FUNCTIONS);
    ASSERT_EQ(m_f->C_Logout(rw), CKR_OK);
    EXPECT_EQ(m_f->C_Logout(rw), CKR_USER_NOT_LOGGED_IN);
    ASSERT_EQ(login(ro), CKR_OK);
    ASSERT_EQ(m_f->C_CloseAllSessions(kSlot), CKR_OK);
    const CK_SESSION_HANDLE next = open();
    ASSERT_EQ(m_f->C_GetSessionInfo(next, &si), CKR_OK);
    EXPECT_EQ(si.state, CKS_RO_PUBLIC_SESSION);
}

TEST_F(FakeModule, WrongPinsCountDownToLocked) {
    init();
    const CK_SESSION_HANDLE h = open();
    EXPECT_EQ(token_flags() & CKF_USER_PIN_COUNT_LOW, 0U);
    EXPECT_EQ(login(h, "0000"), CKR_PIN_INCORRECT);
    EXPECT_NE(token_flags() & CKF_USER_PIN_COUNT_LOW, 0U);
    EXPECT_EQ(token_flags() & CKF_USER_PIN_FINAL_TRY, 0U);
    EXPECT_EQ(login(h, "0000"), CKR_PIN_INCORRECT);
    EXPECT_NE(token_flags() & CKF_USER_PIN_FINAL_TRY, 0U);
    EXPECT_EQ(login(h, "0000"), CKR_PIN_INCORRECT);
    EXPECT_NE(token_flags() & CKF_USER_PIN_LOCKED, 0U);
    EXPECT_EQ(login(h, "1234"), CKR_PIN_LOCKED);                  // even the right PIN
    EXPECT_EQ(token_flags(kOtherSlot) & CKF_USER_PIN_LOCKED, 0U); // per token
}

TEST_F(FakeModule, CorrectPinResetsTheCounter) {
    control().fake_set_pin_tries(2);
    init();
    const CK_SESSION_HANDLE h = open();
    EXPECT_EQ(login(h, "9999"), CKR_PIN_INCORRECT);
    EXPECT_NE(token_flags() & CKF_USER_PIN_FINAL_TRY, 0U);
    ASSERT_EQ(login(h), CKR_OK);
    EXPECT_EQ(token_flags() & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY), 0U);
    ASSERT_EQ(m_f->C_Logout(h), CKR_OK);
    control().fake_set_user_pin("246810");
    EXPECT_EQ(login(h), CKR_PIN_INCORRECT);
    EXPECT_EQ(login(h, "246810"), CKR_OK);
    EXPECT_EQ(login(h, "12"), CKR_USER_ALREADY_LOGGED_IN);
}

// --- objects ----------------------------------------------------------------------------------

TEST_F(FakeModule, FindMatchesTemplatesAndHidesPrivateObjects) {
    init();
    const CK_SESSION_HANDLE h = open();
    CK_OBJECT_CLASS priv = CKO_PRIVATE_KEY;
    CK_OBJECT_CLASS pub = CKO_PUBLIC_KEY;
    EXPECT_TRUE(find(h, {{CKA_CLASS, &priv, sizeof priv}}).empty());
    EXPECT_EQ(find(h, {{CKA_CLASS, &pub, sizeof pub}}).size(), 2U);

    ASSERT_EQ(login(h), CKR_OK);
    EXPECT_EQ(find(h, {{CKA_CLASS, &priv, sizeof priv}}).size(), 4U);
    char dup[] = "dup";
    EXPECT_EQ(find(h, {{CKA_CLASS, &priv, sizeof priv}, {CKA_LABEL, dup, 3}}).size(), 2U);
    CK_BYTE id1 = 0x01;
    EXPECT_EQ(find(h, {{CKA_ID, &id1, 1}}).size(), 3U); // public, private, certificate
    CK_KEY_TYPE ec = CKK_EC;
    EXPECT_EQ(find(h, {{CKA_KEY_TYPE, &ec, sizeof ec}}).size(), 2U);
    CK_BBOOL yes = CK_TRUE;
    EXPECT_EQ(find(h, {{CKA_TOKEN, &yes, 1}}).size(), 7U);
    EXPECT_EQ(find(h, {}).size(), 7U);

    EXPECT_EQ(m_f->C_FindObjectsInit(h, nullptr, 0), CKR_OK);
    EXPECT_EQ(m_f->C_FindObjectsInit(h, nullptr, 0), CKR_OPERATION_ACTIVE);
    EXPECT_EQ(m_f->C_FindObjectsFinal(h), CKR_OK);
    EXPECT_EQ(m_f->C_FindObjectsFinal(h), CKR_OPERATION_NOT_INITIALIZED);
    CK_OBJECT_HANDLE o = 0;
    CK_ULONG n = 0;
    EXPECT_EQ(m_f->C_FindObjects(h, &o, 1, &n), CKR_OPERATION_NOT_INITIALIZED);
}

TEST_F(FakeModule, GetAttributeValueFollowsTheSpecCases) {
    init();
    const CK_SESSION_HANDLE h = open();
    ASSERT_EQ(login(h), CKR_OK);
    const CK_OBJECT_HANDLE rsa = find_one(h, CKO_PRIVATE_KEY, "rsa");
    const CK_OBJECT_HANDLE ec = find_one(h, CKO_PRIVATE_KEY, "ec");

    CK_BYTE small[4];
    CK_BBOOL sensitive = CK_FALSE;
    CK_BYTE label[16];
    CK_ATTRIBUTE t[] = {
        {CKA_MODULUS, nullptr, 0},                     // length only
        {CKA_PUBLIC_EXPONENT, small, 1},               // too small
        {CKA_PRIVATE_EXPONENT, nullptr, 0},            // sensitive
        {CKA_EC_POINT, nullptr, 0},                    // not an RSA attribute
        {CKA_SENSITIVE, &sensitive, sizeof sensitive}, // fine
        {CKA_LABEL, label, sizeof label},              // fine, shorter than the buffer
    };
    const CK_RV rv = m_f->C_GetAttributeValue(h, rsa, t, 6);
    EXPECT_TRUE(rv == CKR_BUFFER_TOO_SMALL || rv == CKR_ATTRIBUTE_SENSITIVE ||
                rv == CKR_ATTRIBUTE_TYPE_INVALID);
    EXPECT_EQ(t[0].ulValueLen, 256U);
    EXPECT_EQ(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    EXPECT_EQ(t[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    EXPECT_EQ(t[3].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    EXPECT_EQ(sensitive, CK_TRUE);
    EXPECT_EQ(t[5].ulValueLen, 3U);
    EXPECT_EQ(std::memcmp(label, "rsa", 3), 0);

    CK_ATTRIBUTE value{CKA_VALUE, nullptr, 0};
    EXPECT_EQ(m_f->C_GetAttributeValue(h, ec, &value, 1), CKR_ATTRIBUTE_SENSITIVE);
    EXPECT_EQ(value.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    CK_BBOOL extractable = CK_TRUE;
    CK_ATTRIBUTE ex{CKA_EXTRACTABLE, &extractable, 1};
    EXPECT_EQ(m_f->C_GetAttributeValue(h, ec, &ex, 1), CKR_OK);
    EXPECT_EQ(extractable, CK_FALSE);
    EXPECT_EQ(attr(h, ec, CKA_EC_PARAMS),
              (Bytes{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}));

    ASSERT_EQ(m_f->C_Logout(h), CKR_OK);
    CK_ATTRIBUTE cls{CKA_CLASS, nullptr, 0};
    EXPECT_EQ(m_f->C_GetAttributeValue(h, rsa, &cls, 1), CKR_OBJECT_HANDLE_INVALID);
}

TEST_F(FakeModule, CertificateHoldsTheRsaPublicKey) {
    init();
    const CK_SESSION_HANDLE h = open();
    const Bytes der = attr(h, find_one(h, CKO_CERTIFICATE, "rsa"), CKA_VALUE);
    const unsigned char* p = der.data();
    X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
    ASSERT_NE(cert, nullptr);
    PkeyPtr pub = rsa_public(h, find_one(h, CKO_PUBLIC_KEY, "rsa"));
    EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(cert), pub.get()), 1);
    X509_free(cert);
}

TEST_F(FakeModule, SessionObjectCopiesDieWithTheirSession) {
    init();
    const CK_SESSION_HANDLE a = open();
    const CK_SESSION_HANDLE b = open();
    const CK_OBJECT_HANDLE pub = find_one(a, CKO_PUBLIC_KEY, "ec");
    char label[] = "copy";
    CK_ATTRIBUTE tmpl[] = {{CKA_LABEL, label, 4}};
    CK_OBJECT_HANDLE copy = 0;
    ASSERT_EQ(m_f->C_CopyObject(a, pub, tmpl, 1, &copy), CKR_OK);
    EXPECT_NE(copy, pub);
    EXPECT_EQ(attr(b, copy, CKA_TOKEN), Bytes{CK_FALSE}); // visible to the other session
    EXPECT_EQ(find_one(b, CKO_PUBLIC_KEY, "copy"), copy);
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE to_token[] = {{CKA_TOKEN, &yes, 1}};
    CK_OBJECT_HANDLE denied = 0;
    EXPECT_EQ(m_f->C_CopyObject(a, pub, to_token, 1, &denied), CKR_SESSION_READ_ONLY);
    ASSERT_EQ(m_f->C_CloseSession(a), CKR_OK);
    CK_ATTRIBUTE cls{CKA_CLASS, nullptr, 0};
    EXPECT_EQ(m_f->C_GetAttributeValue(b, copy, &cls, 1), CKR_OBJECT_HANDLE_INVALID);
    EXPECT_EQ(m_f->C_DestroyObject(b, pub), CKR_SESSION_READ_ONLY);
}

TEST_F(FakeModule, CreatedEcKeySigns) {
    init();
    const CK_SESSION_HANDLE h = open();
    ASSERT_EQ(login(h), CKR_OK);
    EVP_PKEY* gen = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    PkeyPtr key(gen);
    BIGNUM* d = nullptr;
    ASSERT_EQ(EVP_PKEY_get_bn_param(gen, OSSL_PKEY_PARAM_PRIV_KEY, &d), 1);
    Bytes d_bytes(32);
    BN_bn2binpad(d, d_bytes.data(), 32);
    BN_clear_free(d);
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = CKK_EC;
    CK_BYTE oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls},
                           {CKA_KEY_TYPE, &kt, sizeof kt},
                           {CKA_EC_PARAMS, oid, sizeof oid},
                           {CKA_VALUE, d_bytes.data(), d_bytes.size()}};
    CK_OBJECT_HANDLE obj = 0;
    ASSERT_EQ(m_f->C_CreateObject(h, tmpl, 4, &obj), CKR_OK);
    CK_ATTRIBUTE value{CKA_VALUE, nullptr, 0};
    EXPECT_EQ(m_f->C_GetAttributeValue(h, obj, &value, 1), CKR_ATTRIBUTE_SENSITIVE);
    const Bytes digest = sha256(kMessage);
    const Bytes sig = sign(h, {CKM_ECDSA, nullptr, 0}, obj, digest);
    EXPECT_TRUE(verify_ecdsa_digest(gen, digest, sig));
}

// --- signatures -----------------------------------------------------------------------------

TEST_F(FakeModule, RsaSignaturesVerify) {
    init();
    const CK_SESSION_HANDLE h = open();
    ASSERT_EQ(login(h), CKR_OK);
    const CK_OBJECT_HANDLE priv = find_one(h, CKO_PRIVATE_KEY, "rsa");
    PkeyPtr pub = rsa_public(h, find_one(h, CKO_PUBLIC_KEY, "rsa"));

    EXPECT_TRUE(verify(pub.get(), EVP_sha256(), kMessage,
                       sign(h, {CKM_SHA256_RSA_PKCS, nullptr, 0}, priv, kMessage), 0));
    EXPECT_TRUE(verify(pub.get(), EVP_sha384(), kMessage,
                       sign(h, {CKM_SHA384_RSA_PKCS, nullptr, 0}, priv, kMessage), 0));
    EXPECT_TRUE(verify(pub.get(), EVP_sha512(), kMessage,
                       sign(h, {CKM_SHA512_RSA_PKCS, nullptr, 0}, priv, kMessage), 0));

    // CKM_RSA_PKCS over a DigestInfo is an ordinary PKCS#1 v1.5 SHA-256 signature.
    Bytes digest_info = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                         0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
    const Bytes digest = sha256(kMessage);
    digest_info.insert(digest_info.end(), digest.begin(), digest.end());
    EXPECT_TRUE(verify(pub.get(), EVP_sha256(), kMessage,
                       sign(h, {CKM_RSA_PKCS, nullptr, 0}, priv, digest_info), 0));

    CK_RSA_PKCS_PSS_PARAMS pss{CKM_SHA256, CKG_MGF1_SHA256, 32};
    EXPECT_TRUE(verify(pub.get(), EVP_sha256(), kMessage,
                       sign(h, {CKM_RSA_PKCS_PSS, &pss, sizeof pss}, priv, digest),
                       RSA_PKCS1_PSS_PADDING, 32));
    EXPECT_TRUE(verify(pub.get(), EVP_sha256(), kMessage,
                       sign(h, {CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof pss}, priv, kMessage),
                       RSA_PKCS1_PSS_PADDING, 32));

    CK_RSA_PKCS_PSS_PARAMS wrong{CKM_SHA384, CKG_MGF1_SHA384, 48};
    CK_MECHANISM mismatch{CKM_SHA256_RSA_PKCS_PSS, &wrong, sizeof wrong};
    EXPECT_EQ(m_f->C_SignInit(h, &mismatch, priv), CKR_MECHANISM_PARAM_INVALID);
    CK_MECHANISM no_params{CKM_RSA_PKCS_PSS, nullptr, 0};
    EXPECT_EQ(m_f->C_SignInit(h, &no_params, priv), CKR_MECHANISM_PARAM_INVALID);
    CK_MECHANISM ecdsa{CKM_ECDSA, nullptr, 0};
    EXPECT_EQ(m_f->C_SignInit(h, &ecdsa, priv), CKR_KEY_TYPE_INCONSISTENT);
}

TEST_F(FakeModule, EcdsaSignaturesAreFixedWidthAndVerify) {
    init();
    const CK_SESSION_HANDLE h = open();
    ASSERT_EQ(login(h), CKR_OK);
    const CK_OBJECT_HANDLE priv = find_one(h, CKO_PRIVATE_KEY, "ec");
    PkeyPtr pub = ec_public(h, find_one(h, CKO_PUBLIC_KEY, "ec"));
    const Bytes digest = sha256(kMessage);
    for (int i = 0; i < 8; ++i) { // r or s with leading zeros must still be 32 bytes
        const Bytes raw = sign(h, {CKM_ECDSA, nullptr, 0}, priv, digest);
        ASSERT_EQ(raw.size(), 64U);
        EXPECT_TRUE(verify_ecdsa_digest(pub.get(), digest, raw));
    }
    const Bytes hashed = sign(h, {CKM_ECDSA_SHA256, nullptr, 0}, priv, kMessage);
    ASSERT_EQ(hashed.size(), 64U);
    EXPECT_TRUE(verify_ecdsa_digest(pub.get(), digest, hashed));
}

TEST_F(FakeModule, SignLengthProtocolAndMultiPart) {
    init();
    const CK_SESSION_HANDLE h = open();
    ASSERT_EQ(login(h), CKR_OK);
    const CK_OBJECT_HANDLE priv = find_one(h, CKO_PRIVATE_KEY, "rsa");
    PkeyPtr pub = rsa_public(h, find_one(h, CKO_PUBLIC_KEY, "rsa"));
    CK_MECHANISM mech{CKM_SHA256_RSA_PKCS, nullptr, 0};

    ASSERT_EQ(m_f->C_SignInit(h, &mech, priv), CKR_OK);
    EXPECT_EQ(m_f->C_SignInit(h, &mech, priv), CKR_OPERATION_ACTIVE);
    Bytes data = kMessage;
    Bytes sig(10);
    CK_ULONG len = sig.size();
    EXPECT_EQ(m_f->C_Sign(h, data.data(), data.size(), sig.data(), &len), CKR_BUFFER_TOO_SMALL);
    EXPECT_EQ(len, 256U);
    sig.resize(len); // the operation is still active after CKR_BUFFER_TOO_SMALL
    ASSERT_EQ(m_f->C_Sign(h, data.data(), data.size(), sig.data(), &len), CKR_OK);
    EXPECT_TRUE(verify(pub.get(), EVP_sha256(), kMessage, sig, 0));
    EXPECT_EQ(m_f->C_Sign(h, data.data(), data.size(), sig.data(), &len),
              CKR_OPERATION_NOT_INITIALIZED);

    ASSERT_EQ(m_f->C_SignInit(h, &mech, priv), CKR_OK);
    ASSERT_EQ(m_f->C_SignUpdate(h, data.data(), 5), CKR_OK);
    ASSERT_EQ(m_f->C_SignUpdate(h, data.data() + 5, data.size() - 5), CKR_OK);
    len = 0;
    ASSERT_EQ(m_f->C_SignFinal(h, nullptr, &len), CKR_OK);
    Bytes multi(len);
    ASSERT_EQ(m_f->C_SignFinal(h, multi.data(), &len), CKR_OK);
    EXPECT_EQ(multi, sig); // PKCS#1 v1.5 is deterministic
}

TEST_F(FakeModule, PrivateKeysNeedLogin) {
    init();
    const CK_SESSION_HANDLE h = open();
    ASSERT_EQ(login(h), CKR_OK);
    const CK_OBJECT_HANDLE priv = find_one(h, CKO_PRIVATE_KEY, "rsa");
    const CK_OBJECT_HANDLE pub = find_one(h, CKO_PUBLIC_KEY, "rsa");
    ASSERT_EQ(m_f->C_Logout(h), CKR_OK);
    CK_MECHANISM mech{CKM_SHA256_RSA_PKCS, nullptr, 0};
    EXPECT_EQ(m_f->C_SignInit(h, &mech, priv), CKR_USER_NOT_LOGGED_IN);
    EXPECT_EQ(m_f->C_SignInit(h, &mech, pub), CKR_KEY_FUNCTION_NOT_PERMITTED);
    EXPECT_EQ(m_f->C_SignInit(h, &mech, 0xdead), CKR_KEY_HANDLE_INVALID);
    CK_BYTE rnd[16] = {};
    EXPECT_EQ(m_f->C_GenerateRandom(h, rnd, sizeof rnd), CKR_OK);
}

TEST_F(FakeModule, SignDelayLetsSessionsOverlap) {
    init();
    const CK_SESSION_HANDLE a = open();
    const CK_SESSION_HANDLE b = open();
    ASSERT_EQ(login(a), CKR_OK);
    const CK_OBJECT_HANDLE priv = find_one(a, CKO_PRIVATE_KEY, "ec");
    control().fake_set_sign_delay_us(400'000);
    const Bytes digest = sha256(kMessage);
    const auto start = std::chrono::steady_clock::now();
    std::thread other([&] { sign(b, {CKM_ECDSA, nullptr, 0}, priv, digest); });
    sign(a, {CKM_ECDSA, nullptr, 0}, priv, digest);
    other.join();
    const auto elapsed = std::chrono::steady_clock::now() - start;
    // Each sign() makes two C_Sign calls (length, then signature): 4 × 400 ms serialised,
    // about 800 ms when the two sessions overlap.
    EXPECT_LT(elapsed, std::chrono::milliseconds(1500));
    EXPECT_GE(elapsed, std::chrono::milliseconds(800));
}

// --- fault injection, fork ------------------------------------------------------------------

TEST_F(FakeModule, FaultsAreInjectedCountedAndCleared) {
    control().fake_fail("C_Initialize", CKR_DEVICE_ERROR, 1);
    EXPECT_EQ(m_f->C_Initialize(nullptr), CKR_DEVICE_ERROR);
    EXPECT_EQ(control().fake_initialized(), 0);
    init();
    const CK_SESSION_HANDLE h = open();
    control().fake_fail("C_Login", CKR_PIN_INCORRECT, 2);
    EXPECT_EQ(login(h), CKR_PIN_INCORRECT);
    EXPECT_EQ(login(h), CKR_PIN_INCORRECT);
    EXPECT_EQ(token_flags() & CKF_USER_PIN_COUNT_LOW, 0U); // nothing really happened
    EXPECT_EQ(login(h), CKR_OK);
    EXPECT_EQ(control().fake_call_count("C_Login"), 3U);

    control().fake_fail("C_OpenSession", CKR_SESSION_COUNT, -1);
    CK_SESSION_HANDLE s = 0;
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(m_f->C_OpenSession(kSlot, CKF_SERIAL_SESSION, nullptr, nullptr, &s),
                  CKR_SESSION_COUNT);
    }
    control().fake_fail("C_OpenSession", 0, 0);
    EXPECT_EQ(m_f->C_OpenSession(kSlot, CKF_SERIAL_SESSION, nullptr, nullptr, &s), CKR_OK);

    control().fake_fail("C_GetSlotList", CKR_GENERAL_ERROR, -1);
    control().fake_clear_faults();
    CK_ULONG n = 0;
    EXPECT_EQ(m_f->C_GetSlotList(CK_TRUE, nullptr, &n), CKR_OK);
    control().fake_reset_counts();
    EXPECT_EQ(control().fake_call_count("C_Login"), 0U);
    EXPECT_EQ(control().fake_call_count("C_GetSlotList"), 0U);
}

TEST_F(FakeModule, ForkedChildMustReinitialise) {
    init();
    const CK_SESSION_HANDLE h = open();
    ASSERT_EQ(login(h), CKR_OK);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        // Child: report failures through the exit status; no gtest assertions here.
        int step = 1;
        CK_INFO info{};
        if (m_f->C_GetInfo(&info) != CKR_CRYPTOKI_NOT_INITIALIZED) {
            _exit(step);
        }
        ++step;
        CK_SESSION_INFO si{};
        if (m_f->C_GetSessionInfo(h, &si) != CKR_CRYPTOKI_NOT_INITIALIZED) {
            _exit(step);
        }
        ++step;
        if (m_f->C_Finalize(nullptr) != CKR_CRYPTOKI_NOT_INITIALIZED) {
            _exit(step);
        }
        ++step;
        if (m_f->C_Initialize(nullptr) != CKR_OK) {
            _exit(step);
        }
        ++step;
        if (m_f->C_GetSessionInfo(h, &si) != CKR_SESSION_HANDLE_INVALID) {
            _exit(step);
        }
        ++step;
        CK_SESSION_HANDLE fresh = 0;
        if (m_f->C_OpenSession(kSlot, CKF_SERIAL_SESSION, nullptr, nullptr, &fresh) != CKR_OK ||
            m_f->C_GetSessionInfo(fresh, &si) != CKR_OK || si.state != CKS_RO_PUBLIC_SESSION) {
            _exit(step);
        }
        _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "child failed at step " << WEXITSTATUS(status);
    CK_SESSION_INFO si{};
    ASSERT_EQ(m_f->C_GetSessionInfo(h, &si), CKR_OK); // the parent is untouched
    EXPECT_EQ(si.state, CKS_RO_USER_FUNCTIONS);
}

} // namespace
