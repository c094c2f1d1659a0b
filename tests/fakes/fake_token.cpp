// General-purpose, slot, token and mechanism functions of the fake module.
#include "fake_module.hpp"

#include <unistd.h>

#include <array>
#include <cstring>

namespace fake {
namespace {

struct Mechanism {
    CK_MECHANISM_TYPE type;
    CK_ULONG min_bits;
    CK_ULONG max_bits;
    CK_FLAGS flags;
};

constexpr CK_FLAGS kEcFlags =
    CKF_HW | CKF_SIGN | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;

constexpr std::array kMechanisms = {
    Mechanism{CKM_RSA_PKCS, 1024, 4096, CKF_HW | CKF_SIGN},
    Mechanism{CKM_SHA256_RSA_PKCS, 1024, 4096, CKF_HW | CKF_SIGN},
    Mechanism{CKM_SHA384_RSA_PKCS, 1024, 4096, CKF_HW | CKF_SIGN},
    Mechanism{CKM_SHA512_RSA_PKCS, 1024, 4096, CKF_HW | CKF_SIGN},
    Mechanism{CKM_RSA_PKCS_PSS, 1024, 4096, CKF_HW | CKF_SIGN},
    Mechanism{CKM_SHA256_RSA_PKCS_PSS, 1024, 4096, CKF_HW | CKF_SIGN},
    Mechanism{CKM_ECDSA, 256, 256, kEcFlags},
    Mechanism{CKM_ECDSA_SHA256, 256, 256, kEcFlags},
};

// Two-call length protocol shared by C_GetSlotList and C_GetMechanismList (2.40
// section 5.2): NULL list → count only; short list → CKR_BUFFER_TOO_SMALL and the count.
template <typename T> CK_RV fill_list(const std::vector<T>& items, T* out, CK_ULONG_PTR n) {
    if (n == nullptr) {
        return CKR_ARGUMENTS_BAD;
    }
    const CK_ULONG have = *n;
    *n = items.size();
    if (out == nullptr) {
        return CKR_OK;
    }
    if (have < items.size()) {
        return CKR_BUFFER_TOO_SMALL;
    }
    std::copy(items.begin(), items.end(), out);
    return CKR_OK;
}

// Slot ids change on every C_Initialize when renumbering is on, and token object handles
// with them, so cached ids and handles fail after re-initialisation as they do on
// modules that re-enumerate.
void renumber(State& st) {
    st.renumber_offset += 100;
    for (auto& t : st.tokens) {
        t.slot_id = t.default_id + st.renumber_offset;
        std::map<CK_OBJECT_HANDLE, Object> fresh;
        for (auto& [h, o] : t.objects) {
            fresh.emplace(st.next_object++, std::move(o));
        }
        t.objects = std::move(fresh);
    }
}

} // namespace

CK_RV C_Initialize(CK_VOID_PTR args) {
    Call call("C_Initialize", false);
    if (call.early() != CKR_OK) {
        return call.early();
    }
    State& st = call.st();
    if (st.initialized_here()) {
        return CKR_CRYPTOKI_ALREADY_INITIALIZED;
    }
    std::string init_args;
    if (args != nullptr) {
        const auto* a = static_cast<const CK_C_INITIALIZE_ARGS*>(args);
        const int fns = (a->CreateMutex != nullptr) + (a->DestroyMutex != nullptr) +
                        (a->LockMutex != nullptr) + (a->UnlockMutex != nullptr);
        // All four mutex functions or none (2.40 section 5.4, C_Initialize).
        if (fns != 0 && fns != 4) {
            return CKR_ARGUMENTS_BAD;
        }
        // Application locks offered without CKF_OS_LOCKING_OK: this module only has OS
        // locking, which the spec allows it to refuse this way.
        if (fns == 4 && (a->flags & CKF_OS_LOCKING_OK) == 0) {
            return CKR_CANT_LOCK;
        }
        // pReserved must be NULL per spec; p11-kit and NSS pass module options there.
        if (a->pReserved != nullptr) {
            init_args = static_cast<const char*>(a->pReserved);
        }
    }
    // A child of fork() inherited the parent's sessions and login; they are not its own.
    st.forget_process_state();
    if (st.renumber) {
        renumber(st);
    }
    st.initialized = true;
    st.init_pid = getpid();
    st.init_args = std::move(init_args);
    return CKR_OK;
}

CK_RV C_Finalize(CK_VOID_PTR reserved) {
    Call call("C_Finalize");
    if (call.early() != CKR_OK) {
        return call.early();
    }
    if (reserved != nullptr) {
        return CKR_ARGUMENTS_BAD;
    }
    State& st = call.st();
    st.forget_process_state();
    st.initialized = false;
    return CKR_OK;
}

CK_RV C_GetInfo(CK_INFO_PTR info) {
    Call call("C_GetInfo");
    if (call.early() != CKR_OK) {
        return call.early();
    }
    if (info == nullptr) {
        return CKR_ARGUMENTS_BAD;
    }
    std::memset(info, 0, sizeof *info);
    info->cryptokiVersion = CK_VERSION{2, 40};
    pad(info->manufacturerID, sizeof info->manufacturerID, "hsmp fake");
    info->flags = 0;
    pad(info->libraryDescription, sizeof info->libraryDescription, "hsmp fake module");
    info->libraryVersion = CK_VERSION{1, 0};
    return CKR_OK;
}

CK_RV C_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR n) {
    Call call("C_GetSlotList");
    if (call.early() != CKR_OK) {
        return call.early();
    }
    std::vector<CK_SLOT_ID> ids;
    for (const auto& t : call.st().tokens) {
        if (present == CK_FALSE || t.present) {
            ids.push_back(t.slot_id);
        }
    }
    return fill_list(ids, list, n);
}

CK_RV C_GetSlotInfo(CK_SLOT_ID id, CK_SLOT_INFO_PTR info) {
    Call call("C_GetSlotInfo");
    if (call.early() != CKR_OK) {
        return call.early();
    }
    const Token* t = call.st().token_by_slot(id);
    if (t == nullptr) {
        return CKR_SLOT_ID_INVALID;
    }
    if (info == nullptr) {
        return CKR_ARGUMENTS_BAD;
    }
    std::memset(info, 0, sizeof *info);
    pad(info->slotDescription, sizeof info->slotDescription,
        "hsmp fake slot " + std::to_string(t->default_id));
    pad(info->manufacturerID, sizeof info->manufacturerID, "hsmp");
    info->flags = CKF_REMOVABLE_DEVICE | CKF_HW_SLOT | (t->present ? CKF_TOKEN_PRESENT : 0);
    info->hardwareVersion = CK_VERSION{1, 0};
    info->firmwareVersion = CK_VERSION{1, 0};
    return CKR_OK;
}

CK_RV C_GetTokenInfo(CK_SLOT_ID id, CK_TOKEN_INFO_PTR info) {
    Call call("C_GetTokenInfo");
    if (call.early() != CKR_OK) {
        return call.early();
    }
    State& st = call.st();
    Token* t = nullptr;
    if (const CK_RV rv = present_token(st, id, t); rv != CKR_OK) {
        return rv;
    }
    if (info == nullptr) {
        return CKR_ARGUMENTS_BAD;
    }
    std::memset(info, 0, sizeof *info);
    pad(info->label, sizeof info->label, t->label);
    pad(info->manufacturerID, sizeof info->manufacturerID, "hsmp");
    pad(info->model, sizeof info->model, "fake");
    pad(info->serialNumber, sizeof info->serialNumber, t->serial);
    CK_FLAGS flags =
        CKF_RNG | CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED;
    if (t->tries_left <= 0) {
        flags |= CKF_USER_PIN_LOCKED;
    } else {
        if (t->had_failure) {
            flags |= CKF_USER_PIN_COUNT_LOW;
        }
        // One wrong PIN from locking, whether or not one was entered yet.
        if (t->tries_left == 1) {
            flags |= CKF_USER_PIN_FINAL_TRY;
        }
    }
    info->flags = (flags | st.flags_set) & ~st.flags_clear;
    const auto idx = static_cast<std::size_t>(t - st.tokens.data());
    CK_ULONG rw = 0;
    for (const auto& [h, s] : st.sessions) {
        if (s.token == idx && (s.flags & CKF_RW_SESSION) != 0) {
            ++rw;
        }
    }
    info->ulMaxSessionCount = st.max_sessions; // 0 is CK_EFFECTIVELY_INFINITE
    info->ulSessionCount = st.sessions_on(idx);
    info->ulMaxRwSessionCount = st.max_sessions;
    info->ulRwSessionCount = rw;
    info->ulMaxPinLen = 64;
    info->ulMinPinLen = 4;
    info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
    info->hardwareVersion = CK_VERSION{1, 0};
    info->firmwareVersion = CK_VERSION{1, 0};
    pad(info->utcTime, sizeof info->utcTime, "");
    return CKR_OK;
}

CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR slot, CK_VOID_PTR reserved) {
    Call call("C_WaitForSlotEvent");
    if (call.early() != CKR_OK) {
        return call.early();
    }
    if (slot == nullptr || reserved != nullptr) {
        return CKR_ARGUMENTS_BAD;
    }
    // No event queue: never an event when asked not to block; blocking is not offered.
    return (flags & CKF_DONT_BLOCK) != 0 ? CKR_NO_EVENT : CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV C_GetMechanismList(CK_SLOT_ID id, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR n) {
    Call call("C_GetMechanismList");
    if (call.early() != CKR_OK) {
        return call.early();
    }
    Token* t = nullptr;
    if (const CK_RV rv = present_token(call.st(), id, t); rv != CKR_OK) {
        return rv;
    }
    std::vector<CK_MECHANISM_TYPE> types;
    for (const auto& m : kMechanisms) {
        if (t->removed_mechanisms.count(m.type) == 0) {
            types.push_back(m.type);
        }
    }
    return fill_list(types, list, n);
}

CK_RV C_GetMechanismInfo(CK_SLOT_ID id, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info) {
    Call call("C_GetMechanismInfo");
    if (call.early() != CKR_OK) {
        return call.early();
    }
    Token* t = nullptr;
    if (const CK_RV rv = present_token(call.st(), id, t); rv != CKR_OK) {
        return rv;
    }
    if (info == nullptr) {
        return CKR_ARGUMENTS_BAD;
    }
    if (t->removed_mechanisms.count(type) != 0) {
        return CKR_MECHANISM_INVALID;
    }
    for (const auto& m : kMechanisms) {
        if (m.type == type) {
            info->ulMinKeySize = m.min_bits;
            info->ulMaxKeySize = m.max_bits;
            const auto flags = t->mechanism_flags.find(type);
            info->flags = flags != t->mechanism_flags.end() ? flags->second : m.flags;
            return CKR_OK;
        }
    }
    return CKR_MECHANISM_INVALID;
}

} // namespace fake
