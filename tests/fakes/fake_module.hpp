// Internal state of the fake PKCS#11 module. One State, guarded by one mutex; every C_*
// entry point opens a Call, which takes the mutex, counts the call, applies an injected
// fault and checks initialisation (per process: a forked child is not initialised).
#pragma once

#include <openssl/evp.h>
#include <sys/types.h>

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

// Last, and kept apart from the blocks above: p11-kit's compatibility mode maps common
// words onto struct member names (value → pValue, count → ulCount, ...), which must not
// reach the standard headers. Once the structs are declared the macros are dropped so
// they cannot rewrite identifiers below either.
#include <p11-kit/pkcs11.h>
#undef value
#undef count
#undef params
#undef parameter
#undef reserved
#undef slot_id

namespace fake {

using Bytes = std::vector<unsigned char>;

/// CK_USER_TYPE meaning "nobody is logged in" (not a spec value).
constexpr CK_USER_TYPE kNobody = ~CK_USER_TYPE{0};

struct PkeyFree {
    void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
using Pkey = std::shared_ptr<EVP_PKEY>;

struct Object {
    std::map<CK_ATTRIBUTE_TYPE, Bytes> attrs;
    /// Attribute types that exist but are never revealed (CKR_ATTRIBUTE_SENSITIVE).
    std::set<CK_ATTRIBUTE_TYPE> sensitive;
    /// The key for signing (private keys) or nullptr.
    Pkey pkey;
    /// Session that owns a session object; 0 for token objects.
    CK_SESSION_HANDLE owner = 0;

    [[nodiscard]] const Bytes* get(CK_ATTRIBUTE_TYPE type) const;
    [[nodiscard]] CK_ULONG get_ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG fallback) const;
    [[nodiscard]] bool get_bool(CK_ATTRIBUTE_TYPE type, bool fallback) const;
    void set_ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG v);
    void set_bool(CK_ATTRIBUTE_TYPE type, bool v);
    void set_bytes(CK_ATTRIBUTE_TYPE type, Bytes v);
    void set_string(CK_ATTRIBUTE_TYPE type, std::string_view v);
    [[nodiscard]] bool is_private() const { return get_bool(CKA_PRIVATE, true); }
    [[nodiscard]] bool is_token() const { return get_bool(CKA_TOKEN, false); }
};

struct Token {
    CK_SLOT_ID default_id = 0; ///< the id after fake_reset; renumbering adds to it
    CK_SLOT_ID slot_id = 0;
    std::string label;
    std::string serial;
    bool present = true;
    CK_USER_TYPE login = kNobody;
    int tries_left = 3;
    bool had_failure = false;
    std::map<CK_OBJECT_HANDLE, Object> objects;
    /// Mechanisms this token no longer offers (fake_remove_mechanism).
    std::set<CK_MECHANISM_TYPE> removed_mechanisms;
    /// CK_MECHANISM_INFO.flags overrides (fake_set_mechanism_flags).
    std::map<CK_MECHANISM_TYPE, CK_FLAGS> mechanism_flags;
};

struct FindOp {
    std::vector<CK_OBJECT_HANDLE> hits;
    std::size_t next = 0;
};

struct SignOp {
    CK_MECHANISM_TYPE mech = 0;
    CK_OBJECT_HANDLE key = 0;
    CK_RSA_PKCS_PSS_PARAMS pss{};
    Bytes data;
    bool multipart = false;
};

struct Session {
    std::size_t token = 0; ///< index into State::tokens
    CK_FLAGS flags = 0;
    std::optional<FindOp> find;
    std::optional<SignOp> sign;
};

struct Fault {
    CK_RV rv = CKR_OK;
    int remaining = 0; ///< -1: forever
};

struct State {
    bool initialized = false;
    pid_t init_pid = 0;
    std::string init_args;
    std::vector<Token> tokens;
    std::map<CK_SESSION_HANDLE, Session> sessions;
    CK_SESSION_HANDLE next_session = 0x5e550001;
    CK_OBJECT_HANDLE next_object = 0x0b100001;
    std::map<std::string, Fault, std::less<>> faults;
    std::map<std::string, unsigned long, std::less<>> counts;
    CK_ULONG max_sessions = 32;
    int pin_tries = 3;
    std::string user_pin = "1234";
    std::string so_pin = "5678";
    bool renumber = false;
    CK_SLOT_ID renumber_offset = 0;
    CK_FLAGS flags_set = 0;
    CK_FLAGS flags_clear = 0;
    unsigned long sign_delay_us = 0;

    [[nodiscard]] bool initialized_here() const;
    [[nodiscard]] Token* token_by_slot(CK_SLOT_ID id);
    [[nodiscard]] std::size_t sessions_on(std::size_t token) const;
    /// Closes a session: its session objects go, and the token logs out when it was the
    /// token's last session (spec: login state ends with the last session).
    void close_session(CK_SESSION_HANDLE h);
    void close_all_sessions(std::size_t token);
    void forget_process_state();
    CK_OBJECT_HANDLE add_object(std::size_t token, Object obj);
};

/// The module's one mutex and state. Lock before touching the state.
std::mutex& state_mutex();
/// Requires state_mutex() held. Builds the default state on first use.
State& state();
/// Requires state_mutex() held.
void reset_locked(State& st);

/// Entry guard of every C_* function.
class Call {
public:
    /// `needs_init`: false only for C_Initialize, C_GetFunctionList and C_GetInterface.
    Call(std::string_view function, bool needs_init = true);
    /// CKR_OK to proceed, otherwise the value to return now.
    [[nodiscard]] CK_RV early() const { return m_early; }
    [[nodiscard]] State& st() { return *m_state; }
    /// Drops the mutex for a sleep and takes it again.
    void sleep_unlocked(unsigned long us);
    /// Drops the mutex for good (work that needs no state, such as a signature).
    void unlock() { m_lock.unlock(); }

private:
    std::unique_lock<std::mutex> m_lock;
    State* m_state;
    CK_RV m_early = CKR_OK;
};

/// Looks up a live session; nullptr when the handle is invalid.
Session* find_session(State& st, CK_SESSION_HANDLE h);
/// A visible object of the session's token: session objects of this application and token
/// objects; private ones only while the user is logged in. nullptr otherwise.
Object* find_object(State& st, const Session& s, CK_OBJECT_HANDLE h);
/// Like find_object, but ignores login (for telling "not logged in" from "no such key").
Object* find_object_any(State& st, const Session& s, CK_OBJECT_HANDLE h);

/// The token in slot `id`: CKR_SLOT_ID_INVALID, CKR_TOKEN_NOT_PRESENT or CKR_OK.
CK_RV present_token(State& st, CK_SLOT_ID id, Token*& t);

/// Blank-padded copy into a fixed-size CK_UTF8CHAR field.
void pad(CK_UTF8CHAR* dst, std::size_t n, std::string_view src);

/// Key material and certificate, generated once per process.
struct Material {
    Pkey rsa;
    Pkey ec;
    Pkey dup1;
    Pkey dup2;
    Pkey other_ec;
    Bytes cert_der;
    Bytes cert_subject;
    Bytes cert_issuer;
    Bytes cert_serial;
};
const Material& material();

/// Token objects for a key pair / certificate (fake_objects_default.cpp).
Object make_private(const Pkey& key, std::string_view label, const Bytes& id);
Object make_public(const Pkey& key, std::string_view label, const Bytes& id);
Object make_certificate(const Material& m, std::string_view label, const Bytes& id);

// C_* implementations, assembled into the function list by fake_exports.cpp.
CK_RV C_Initialize(CK_VOID_PTR args);
CK_RV C_Finalize(CK_VOID_PTR reserved);
CK_RV C_GetInfo(CK_INFO_PTR info);
CK_RV C_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR n);
CK_RV C_GetSlotInfo(CK_SLOT_ID id, CK_SLOT_INFO_PTR info);
CK_RV C_GetTokenInfo(CK_SLOT_ID id, CK_TOKEN_INFO_PTR info);
CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR slot, CK_VOID_PTR reserved);
CK_RV C_GetMechanismList(CK_SLOT_ID id, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR n);
CK_RV C_GetMechanismInfo(CK_SLOT_ID id, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info);
CK_RV C_OpenSession(CK_SLOT_ID id, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
                    CK_SESSION_HANDLE_PTR out);
CK_RV C_CloseSession(CK_SESSION_HANDLE h);
CK_RV C_CloseAllSessions(CK_SLOT_ID id);
CK_RV C_GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info);
CK_RV C_Login(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG len);
CK_RV C_Logout(CK_SESSION_HANDLE h);
CK_RV C_CreateObject(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n,
                     CK_OBJECT_HANDLE_PTR out);
CK_RV C_CopyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n,
                   CK_OBJECT_HANDLE_PTR out);
CK_RV C_DestroyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj);
CK_RV C_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl,
                          CK_ULONG n);
CK_RV C_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n);
CK_RV C_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR out, CK_ULONG max, CK_ULONG_PTR n);
CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE h);
CK_RV C_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key);
CK_RV C_Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
             CK_ULONG_PTR sig_len);
CK_RV C_SignUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR part, CK_ULONG len);
CK_RV C_SignFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len);
CK_RV C_GenerateRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG len);

} // namespace fake
