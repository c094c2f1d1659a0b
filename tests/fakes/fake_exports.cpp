// The module's exported entry points: C_GetFunctionList always, C_GetInterface and
// C_GetInterfaceList unless built with FAKE_NO_GET_INTERFACE (the 2.40-only variant that
// exercises the loader's fallback). Every function-list slot is filled; what the fake
// does not implement answers CKR_FUNCTION_NOT_SUPPORTED.
#include "fake_module.hpp"

#include <cstring>

namespace fake {
namespace {

// A CKR_FUNCTION_NOT_SUPPORTED function of any function-list slot's type.
template <typename Fn> struct NotSupported;

template <typename... Args> struct NotSupported<CK_RV (*)(Args...)> {
    static CK_RV fn(Args... /*unused*/) { return CKR_FUNCTION_NOT_SUPPORTED; }
};

template <typename Fn> void stub(Fn& slot) {
    slot = &NotSupported<Fn>::fn;
}

CK_RV get_function_list(CK_FUNCTION_LIST_PTR_PTR out);

CK_FUNCTION_LIST build() {
    CK_FUNCTION_LIST f;
    std::memset(&f, 0, sizeof f);
    f.version = CK_VERSION{2, 40};
    f.C_Initialize = C_Initialize;
    f.C_Finalize = C_Finalize;
    f.C_GetInfo = C_GetInfo;
    f.C_GetFunctionList = get_function_list;
    f.C_GetSlotList = C_GetSlotList;
    f.C_GetSlotInfo = C_GetSlotInfo;
    f.C_GetTokenInfo = C_GetTokenInfo;
    f.C_GetMechanismList = C_GetMechanismList;
    f.C_GetMechanismInfo = C_GetMechanismInfo;
    stub(f.C_InitToken);
    stub(f.C_InitPIN);
    stub(f.C_SetPIN);
    f.C_OpenSession = C_OpenSession;
    f.C_CloseSession = C_CloseSession;
    f.C_CloseAllSessions = C_CloseAllSessions;
    f.C_GetSessionInfo = C_GetSessionInfo;
    stub(f.C_GetOperationState);
    stub(f.C_SetOperationState);
    f.C_Login = C_Login;
    f.C_Logout = C_Logout;
    f.C_CreateObject = C_CreateObject;
    f.C_CopyObject = C_CopyObject;
    f.C_DestroyObject = C_DestroyObject;
    stub(f.C_GetObjectSize);
    f.C_GetAttributeValue = C_GetAttributeValue;
    stub(f.C_SetAttributeValue);
    f.C_FindObjectsInit = C_FindObjectsInit;
    f.C_FindObjects = C_FindObjects;
    f.C_FindObjectsFinal = C_FindObjectsFinal;
    stub(f.C_EncryptInit);
    stub(f.C_Encrypt);
    stub(f.C_EncryptUpdate);
    stub(f.C_EncryptFinal);
    stub(f.C_DecryptInit);
    stub(f.C_Decrypt);
    stub(f.C_DecryptUpdate);
    stub(f.C_DecryptFinal);
    stub(f.C_DigestInit);
    stub(f.C_Digest);
    stub(f.C_DigestUpdate);
    stub(f.C_DigestKey);
    stub(f.C_DigestFinal);
    f.C_SignInit = C_SignInit;
    f.C_Sign = C_Sign;
    f.C_SignUpdate = C_SignUpdate;
    f.C_SignFinal = C_SignFinal;
    stub(f.C_SignRecoverInit);
    stub(f.C_SignRecover);
    stub(f.C_VerifyInit);
    stub(f.C_Verify);
    stub(f.C_VerifyUpdate);
    stub(f.C_VerifyFinal);
    stub(f.C_VerifyRecoverInit);
    stub(f.C_VerifyRecover);
    stub(f.C_DigestEncryptUpdate);
    stub(f.C_DecryptDigestUpdate);
    stub(f.C_SignEncryptUpdate);
    stub(f.C_DecryptVerifyUpdate);
    stub(f.C_GenerateKey);
    stub(f.C_GenerateKeyPair);
    stub(f.C_WrapKey);
    stub(f.C_UnwrapKey);
    stub(f.C_DeriveKey);
    stub(f.C_SeedRandom);
    f.C_GenerateRandom = C_GenerateRandom;
    stub(f.C_GetFunctionStatus);
    stub(f.C_CancelFunction);
    f.C_WaitForSlotEvent = C_WaitForSlotEvent;
    return f;
}

CK_FUNCTION_LIST g_functions = build();

CK_RV get_function_list(CK_FUNCTION_LIST_PTR_PTR out) {
    Call call("C_GetFunctionList", false);
    if (call.early() != CKR_OK) {
        return call.early();
    }
    if (out == nullptr) {
        return CKR_ARGUMENTS_BAD;
    }
    *out = &g_functions;
    return CKR_OK;
}

#ifndef FAKE_NO_GET_INTERFACE
// CK_INTERFACE from the OASIS PKCS#11 3.0 base specification, section 3.6, declared here
// rather than taken from the provider's header so the fake checks that header's layout
// instead of sharing its mistakes.
struct FakeInterface {
    CK_UTF8CHAR* pInterfaceName;
    CK_VOID_PTR pFunctionList;
    CK_FLAGS flags;
};

CK_UTF8CHAR g_interface_name[] = "PKCS 11";
FakeInterface g_interface = {g_interface_name, &g_functions, 0};
#endif

} // namespace
} // namespace fake

extern "C" {

__attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out) {
    return fake::get_function_list(out);
}

#ifndef FAKE_NO_GET_INTERFACE
/// 3.0: CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount)
__attribute__((visibility("default"))) CK_RV C_GetInterfaceList(fake::FakeInterface* list,
                                                                CK_ULONG_PTR n) {
    fake::Call call("C_GetInterfaceList", false);
    if (call.early() != CKR_OK) {
        return call.early();
    }
    if (n == nullptr) {
        return CKR_ARGUMENTS_BAD;
    }
    const CK_ULONG have = *n;
    *n = 1;
    if (list == nullptr) {
        return CKR_OK;
    }
    if (have < 1) {
        return CKR_BUFFER_TOO_SMALL;
    }
    list[0] = fake::g_interface;
    return CKR_OK;
}

/// 3.0: CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
///                           CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags)
/// Only "PKCS 11" version 2.40 with no flags is offered; anything else is
/// CKR_ARGUMENTS_BAD, as the specification asks when no interface matches.
__attribute__((visibility("default"))) CK_RV C_GetInterface(CK_UTF8CHAR_PTR name,
                                                            CK_VERSION_PTR version,
                                                            fake::FakeInterface** out,
                                                            CK_FLAGS flags) {
    fake::Call call("C_GetInterface", false);
    if (call.early() != CKR_OK) {
        return call.early();
    }
    if (out == nullptr) {
        return CKR_ARGUMENTS_BAD;
    }
    if (name != nullptr && std::strcmp(reinterpret_cast<const char*>(name), "PKCS 11") != 0) {
        return CKR_ARGUMENTS_BAD;
    }
    if (version != nullptr && (version->major != 2 || version->minor != 40)) {
        return CKR_ARGUMENTS_BAD;
    }
    if ((flags & ~fake::g_interface.flags) != 0) {
        return CKR_ARGUMENTS_BAD;
    }
    *out = &fake::g_interface;
    return CKR_OK;
}
#endif

} // extern "C"
