// Session and login functions of the fake module. Login state belongs to the token and is
// shared by all its sessions; it ends when the token's last session closes (2.40 base,
// sections 5.6 and 5.7).
#include "fake_module.hpp"

#include <cstring>
#include <string_view>

namespace fake {
namespace {

constexpr CK_ULONG kMinPin = 4;
constexpr CK_ULONG kMaxPin = 64;

CK_STATE session_state(const Session& s, const Token& t) {
    const bool rw = (s.flags & CKF_RW_SESSION) != 0;
    if (t.login == CKU_SO) {
        return CKS_RW_SO_FUNCTIONS;
    }
    if (t.login == CKU_USER) {
        return rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
    }
    return rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
}

bool has_read_only_session(const State& st, std::size_t token) {
    for (const auto& [h, s] : st.sessions) {
        if (s.token == token && (s.flags & CKF_RW_SESSION) == 0) {
            return true;
        }
    }
    return false;
}

CK_RV login_user(State& st, Token& t, std::string_view pin) {
    if (t.tries_left <= 0) {
        return CKR_PIN_LOCKED;
    }
    if (pin.size() < kMinPin || pin.size() > kMaxPin) {
        return CKR_PIN_LEN_RANGE;
    }
    if (pin != st.user_pin) {
        // The attempt that uses up the last try still reports CKR_PIN_INCORRECT; the
        // token flags say CKF_USER_PIN_LOCKED and later attempts get CKR_PIN_LOCKED.
        t.had_failure = true;
        --t.tries_left;
        return CKR_PIN_INCORRECT;
    }
    t.had_failure = false;
    t.tries_left = st.pin_tries;
    t.login = CKU_USER;
    return CKR_OK;
}

} // namespace

CK_RV C_OpenSession(CK_SLOT_ID id, CK_FLAGS flags, CK_VOID_PTR /*app*/, CK_NOTIFY /*notify*/,
                    CK_SESSION_HANDLE_PTR out) {
    Call call("C_OpenSession");
    if (call.early() != CKR_OK) {
        return call.early();
    }
    State& st = call.st();
    Token* t = nullptr;
    if (const CK_RV rv = present_token(st, id, t); rv != CKR_OK) {
        return rv;
    }
    if (out == nullptr) {
        return CKR_ARGUMENTS_BAD;
    }
    if ((flags & CKF_SERIAL_SESSION) == 0) {
        return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
    }
    const auto idx = static_cast<std::size_t>(t - st.tokens.data());
    if (st.max_sessions != 0 && st.sessions_on(idx) >= st.max_sessions) {
        return CKR_SESSION_COUNT;
    }
    if (t->login == CKU_SO && (flags & CKF_RW_SESSION) == 0) {
        return CKR_SESSION_READ_WRITE_SO_EXISTS;
    }
    const CK_SESSION_HANDLE h = st.next_session++;
    st.sessions.emplace(h, Session{idx, flags, {}, {}});
    *out = h;
    return CKR_OK;
}

CK_RV C_CloseSession(CK_SESSION_HANDLE h) {
    Call call("C_CloseSession");
    if (call.early() != CKR_OK) {
        return call.early();
    }
    if (find_session(call.st(), h) == nullptr) {
        return CKR_SESSION_HANDLE_INVALID;
    }
    call.st().close_session(h);
    return CKR_OK;
}

CK_RV C_CloseAllSessions(CK_SLOT_ID id) {
    Call call("C_CloseAllSessions");
    if (call.early() != CKR_OK) {
        return call.early();
    }
    State& st = call.st();
    Token* t = nullptr;
    if (const CK_RV rv = present_token(st, id, t); rv != CKR_OK) {
        return rv;
    }
    st.close_all_sessions(static_cast<std::size_t>(t - st.tokens.data()));
    return CKR_OK;
}

CK_RV C_GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info) {
    Call call("C_GetSessionInfo");
    if (call.early() != CKR_OK) {
        return call.early();
    }
    State& st = call.st();
    const Session* s = find_session(st, h);
    if (s == nullptr) {
        return CKR_SESSION_HANDLE_INVALID;
    }
    if (info == nullptr) {
        return CKR_ARGUMENTS_BAD;
    }
    std::memset(info, 0, sizeof *info);
    const Token& t = st.tokens[s->token];
    info->slotID = t.slot_id;
    info->state = session_state(*s, t);
    info->flags = s->flags;
    info->ulDeviceError = 0;
    return CKR_OK;
}

CK_RV C_Login(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG len) {
    Call call("C_Login");
    if (call.early() != CKR_OK) {
        return call.early();
    }
    State& st = call.st();
    const Session* s = find_session(st, h);
    if (s == nullptr) {
        return CKR_SESSION_HANDLE_INVALID;
    }
    Token& t = st.tokens[s->token];
    if (user != CKU_USER && user != CKU_SO && user != CKU_CONTEXT_SPECIFIC) {
        return CKR_USER_TYPE_INVALID;
    }
    if (user == CKU_CONTEXT_SPECIFIC) {
        // No key here has CKA_ALWAYS_AUTHENTICATE, so no operation ever waits for this.
        return CKR_OPERATION_NOT_INITIALIZED;
    }
    if (t.login == user) {
        return CKR_USER_ALREADY_LOGGED_IN;
    }
    if (t.login != kNobody) {
        return CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
    }
    if (pin == nullptr) {
        // A NULL PIN asks for the protected authentication path, which this token lacks.
        return CKR_ARGUMENTS_BAD;
    }
    const std::string_view pin_view(reinterpret_cast<const char*>(pin), len);
    if (user == CKU_USER) {
        return login_user(st, t, pin_view);
    }
    if (has_read_only_session(st, s->token)) {
        return CKR_SESSION_READ_ONLY_EXISTS;
    }
    if (pin_view != st.so_pin) {
        return CKR_PIN_INCORRECT;
    }
    t.login = CKU_SO;
    return CKR_OK;
}

CK_RV C_Logout(CK_SESSION_HANDLE h) {
    Call call("C_Logout");
    if (call.early() != CKR_OK) {
        return call.early();
    }
    State& st = call.st();
    const Session* s = find_session(st, h);
    if (s == nullptr) {
        return CKR_SESSION_HANDLE_INVALID;
    }
    Token& t = st.tokens[s->token];
    if (t.login == kNobody) {
        return CKR_USER_NOT_LOGGED_IN;
    }
    t.login = kNobody;
    // Spec (C_Logout): private session objects of the application are destroyed.
    std::erase_if(t.objects,
                  [](const auto& kv) { return kv.second.owner != 0 && kv.second.is_private(); });
    return CKR_OK;
}

} // namespace fake
