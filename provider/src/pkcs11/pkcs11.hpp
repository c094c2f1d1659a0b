// The PKCS#11 declarations the project uses: p11-kit's pkcs11.h (PKCS#11 2.40 plus EdDSA
// constants) and the few PKCS#11 3.0 interface additions it lacks, written from the OASIS
// PKCS#11 3.0 base specification, section 5.2 ("C_GetInterfaceList", "C_GetInterface")
// and 3.6 ("CK_INTERFACE"). Only used when a module exports C_GetInterface.
#pragma once

#include <p11-kit/pkcs11.h>

extern "C" {

#ifndef CKF_INTERFACE_FORK_SAFE
/// CK_INTERFACE.flags: the module handles fork() itself (3.0, section 3.6).
#define CKF_INTERFACE_FORK_SAFE 0x00000001UL
#endif

/// A named function table (3.0). For "PKCS 11" version 2.x/3.x the table begins with a
/// CK_VERSION followed by the 2.40 functions in the 2.40 order, so a 3.0 table can be
/// used through CK_FUNCTION_LIST for every call the project makes.
struct hsmp_ck_interface {
    CK_UTF8CHAR* pInterfaceName;
    CK_VOID_PTR pFunctionList;
    CK_FLAGS flags;
};
using HSMP_CK_INTERFACE = hsmp_ck_interface;

/// CK_RV C_GetInterface(CK_UTF8CHAR_PTR name, CK_VERSION_PTR version,
///                      CK_INTERFACE_PTR_PTR interface, CK_FLAGS flags)
using hsmp_C_GetInterface_fn = CK_RV (*)(CK_UTF8CHAR* name, CK_VERSION* version,
                                         HSMP_CK_INTERFACE** iface, CK_FLAGS flags);
}
