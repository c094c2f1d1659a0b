// The fake module's state, its entry guard and the control API of fake_control.h.
#include "fake_control.h"
#include "fake_module.hpp"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <thread>

namespace fake {

// --- Object -------------------------------------------------------------------------------

const Bytes* Object::get(CK_ATTRIBUTE_TYPE type) const {
    const auto it = attrs.find(type);
    return it == attrs.end() ? nullptr : &it->second;
}

CK_ULONG Object::get_ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG fallback) const {
    const Bytes* v = get(type);
    if (v == nullptr || v->size() != sizeof(CK_ULONG)) {
        return fallback;
    }
    CK_ULONG out = 0;
    std::memcpy(&out, v->data(), sizeof out);
    return out;
}

bool Object::get_bool(CK_ATTRIBUTE_TYPE type, bool fallback) const {
    const Bytes* v = get(type);
    if (v == nullptr || v->size() != sizeof(CK_BBOOL)) {
        return fallback;
    }
    return (*v)[0] != CK_FALSE;
}

void Object::set_ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG v) {
    Bytes b(sizeof v);
    std::memcpy(b.data(), &v, sizeof v);
    attrs[type] = std::move(b);
}

void Object::set_bool(CK_ATTRIBUTE_TYPE type, bool v) {
    attrs[type] = Bytes{static_cast<unsigned char>(v ? CK_TRUE : CK_FALSE)};
}

void Object::set_bytes(CK_ATTRIBUTE_TYPE type, Bytes v) {
    attrs[type] = std::move(v);
}

void Object::set_string(CK_ATTRIBUTE_TYPE type, std::string_view v) {
    attrs[type] = Bytes(v.begin(), v.end());
}

// --- State --------------------------------------------------------------------------------

bool State::initialized_here() const {
    return initialized && init_pid == getpid();
}

Token* State::token_by_slot(CK_SLOT_ID id) {
    for (auto& t : tokens) {
        if (t.slot_id == id) {
            return &t;
        }
    }
    return nullptr;
}

std::size_t State::sessions_on(std::size_t token) const {
    return static_cast<std::size_t>(
        std::count_if(sessions.begin(), sessions.end(),
                      [&](const auto& kv) { return kv.second.token == token; }));
}

void State::close_session(CK_SESSION_HANDLE h) {
    const auto it = sessions.find(h);
    if (it == sessions.end()) {
        return;
    }
    const std::size_t idx = it->second.token;
    sessions.erase(it);
    std::erase_if(tokens[idx].objects, [&](const auto& kv) { return kv.second.owner == h; });
    if (sessions_on(idx) == 0) {
        tokens[idx].login = kNobody;
    }
}

void State::close_all_sessions(std::size_t token) {
    std::vector<CK_SESSION_HANDLE> doomed;
    for (const auto& [h, s] : sessions) {
        if (s.token == token) {
            doomed.push_back(h);
        }
    }
    for (const CK_SESSION_HANDLE h : doomed) {
        close_session(h);
    }
    tokens[token].login = kNobody;
}

void State::forget_process_state() {
    sessions.clear();
    for (auto& t : tokens) {
        t.login = kNobody;
        std::erase_if(t.objects, [](const auto& kv) { return kv.second.owner != 0; });
    }
}

CK_OBJECT_HANDLE State::add_object(std::size_t token, Object obj) {
    const CK_OBJECT_HANDLE h = next_object++;
    tokens[token].objects.emplace(h, std::move(obj));
    return h;
}

// --- global state, reset, fork ------------------------------------------------------------

std::mutex& state_mutex() {
    static std::mutex mu;
    return mu;
}

namespace {

// Keeps the mutex consistent across fork(): a child must not inherit it locked by a thread
// that does not exist there.
void atfork_prepare() {
    state_mutex().lock();
}
void atfork_release() {
    state_mutex().unlock();
}

} // namespace

void reset_locked(State& st) {
    const Material& m = material();
    st = State{};
    Token fake_token;
    fake_token.default_id = fake_token.slot_id = 7;
    fake_token.label = "fake-token";
    fake_token.serial = "FAKE0001";
    Token other;
    other.default_id = other.slot_id = 42;
    other.label = "other-token";
    other.serial = "FAKE0002";
    st.tokens = {fake_token, other};
    for (auto& t : st.tokens) {
        t.tries_left = st.pin_tries;
    }

    const Bytes id_rsa{0x01};
    Object rsa_pub = make_public(m.rsa, "rsa", id_rsa);
    Object rsa_priv = make_private(m.rsa, "rsa", id_rsa);
    rsa_pub.set_bytes(CKA_SUBJECT, m.cert_subject);
    rsa_priv.set_bytes(CKA_SUBJECT, m.cert_subject);
    st.add_object(0, std::move(rsa_pub));
    st.add_object(0, std::move(rsa_priv));
    st.add_object(0, make_certificate(m, "rsa", id_rsa));
    st.add_object(0, make_public(m.ec, "ec", Bytes{0x02}));
    st.add_object(0, make_private(m.ec, "ec", Bytes{0x02}));
    st.add_object(0, make_private(m.dup1, "dup", Bytes{0x10}));
    st.add_object(0, make_private(m.dup2, "dup", Bytes{0x11}));
    st.add_object(1, make_public(m.other_ec, "other-ec", Bytes{0x20}));
    st.add_object(1, make_private(m.other_ec, "other-ec", Bytes{0x20}));
}

State& state() {
    // Built on first use, after libcrypto is initialised, so it is destroyed (at exit or
    // dlclose) before OpenSSL's own cleanup runs.
    static State st = [] {
        pthread_atfork(atfork_prepare, atfork_release, atfork_release);
        State s;
        reset_locked(s);
        return s;
    }();
    return st;
}

// --- Call ---------------------------------------------------------------------------------

Call::Call(std::string_view function, bool needs_init) : m_lock(state_mutex()), m_state(&state()) {
    State& st = *m_state;
    if (auto it = st.counts.find(function); it != st.counts.end()) {
        ++it->second;
    } else {
        st.counts.emplace(std::string(function), 1);
    }
    if (auto it = st.faults.find(function); it != st.faults.end()) {
        m_early = it->second.rv;
        if (it->second.remaining > 0 && --it->second.remaining == 0) {
            st.faults.erase(it);
        }
        return;
    }
    if (needs_init && !st.initialized_here()) {
        m_early = CKR_CRYPTOKI_NOT_INITIALIZED;
    }
}

void Call::sleep_unlocked(unsigned long us) {
    m_lock.unlock();
    std::this_thread::sleep_for(std::chrono::microseconds(us));
    m_lock.lock();
}

// --- lookups ------------------------------------------------------------------------------

Session* find_session(State& st, CK_SESSION_HANDLE h) {
    const auto it = st.sessions.find(h);
    return it == st.sessions.end() ? nullptr : &it->second;
}

Object* find_object_any(State& st, const Session& s, CK_OBJECT_HANDLE h) {
    auto& objects = st.tokens[s.token].objects;
    const auto it = objects.find(h);
    return it == objects.end() ? nullptr : &it->second;
}

Object* find_object(State& st, const Session& s, CK_OBJECT_HANDLE h) {
    Object* o = find_object_any(st, s, h);
    if (o != nullptr && o->is_private() && st.tokens[s.token].login != CKU_USER) {
        return nullptr;
    }
    return o;
}

CK_RV present_token(State& st, CK_SLOT_ID id, Token*& t) {
    t = st.token_by_slot(id);
    if (t == nullptr) {
        return CKR_SLOT_ID_INVALID;
    }
    return t->present ? CKR_OK : CKR_TOKEN_NOT_PRESENT;
}

void pad(CK_UTF8CHAR* dst, std::size_t n, std::string_view src) {
    std::memset(dst, ' ', n);
    std::memcpy(dst, src.data(), std::min(n, src.size()));
}

} // namespace fake

// --- control API --------------------------------------------------------------------------

using fake::state;
using fake::state_mutex;

namespace {

fake::Token* control_token(fake::State& st, unsigned long slot_id) {
    for (auto& t : st.tokens) {
        if (t.slot_id == slot_id || t.default_id == slot_id) {
            return &t;
        }
    }
    return nullptr;
}

// Calls fn on the token in `slot_id` (current or default id), or on every token for 0.
template <class Fn> void for_control_tokens(fake::State& st, unsigned long slot_id, Fn fn) {
    if (slot_id != 0) {
        if (fake::Token* t = control_token(st, slot_id)) {
            fn(*t);
        }
        return;
    }
    for (auto& t : st.tokens) {
        fn(t);
    }
}

} // namespace

extern "C" {

void fake_reset(void) {
    const std::lock_guard lock(state_mutex());
    fake::reset_locked(state());
}

void fake_fail(const char* function, unsigned long rv, int count) {
    const std::lock_guard lock(state_mutex());
    auto& faults = state().faults;
    if (count == 0) {
        faults.erase(std::string(function));
    } else {
        faults[function] = fake::Fault{rv, count < 0 ? -1 : count};
    }
}

void fake_clear_faults(void) {
    const std::lock_guard lock(state_mutex());
    state().faults.clear();
}

unsigned long fake_call_count(const char* function) {
    const std::lock_guard lock(state_mutex());
    const auto& counts = state().counts;
    const auto it = counts.find(std::string_view(function));
    return it == counts.end() ? 0 : it->second;
}

void fake_reset_counts(void) {
    const std::lock_guard lock(state_mutex());
    state().counts.clear();
}

void fake_set_max_sessions(unsigned long n) {
    const std::lock_guard lock(state_mutex());
    state().max_sessions = n;
}

unsigned long fake_open_sessions(void) {
    const std::lock_guard lock(state_mutex());
    return state().sessions.size();
}

void fake_set_pin_tries(int n) {
    const std::lock_guard lock(state_mutex());
    auto& st = state();
    st.pin_tries = std::max(n, 1);
    for (auto& t : st.tokens) {
        t.tries_left = st.pin_tries;
        t.had_failure = false;
    }
}

void fake_set_user_pin(const char* pin) {
    const std::lock_guard lock(state_mutex());
    state().user_pin = pin != nullptr ? pin : "";
}

void fake_remove_token(unsigned long slot_id) {
    const std::lock_guard lock(state_mutex());
    auto& st = state();
    if (fake::Token* t = control_token(st, slot_id)) {
        st.close_all_sessions(static_cast<std::size_t>(t - st.tokens.data()));
        t->present = false;
    }
}

void fake_insert_token(unsigned long slot_id) {
    const std::lock_guard lock(state_mutex());
    if (fake::Token* t = control_token(state(), slot_id)) {
        t->present = true;
    }
}

void fake_remove_mechanism(unsigned long slot_id, unsigned long type) {
    const std::lock_guard lock(state_mutex());
    for_control_tokens(state(), slot_id,
                       [&](fake::Token& t) { t.removed_mechanisms.insert(type); });
}

void fake_set_mechanism_flags(unsigned long slot_id, unsigned long type, unsigned long flags) {
    const std::lock_guard lock(state_mutex());
    for_control_tokens(state(), slot_id, [&](fake::Token& t) { t.mechanism_flags[type] = flags; });
}

void fake_renumber_slots_on_init(int enable) {
    const std::lock_guard lock(state_mutex());
    state().renumber = enable != 0;
}

void fake_set_token_flags(unsigned long set, unsigned long clear) {
    const std::lock_guard lock(state_mutex());
    // Cumulative: later calls refine earlier ones; fake_reset forgets them.
    auto& st = state();
    st.flags_set = (st.flags_set | set) & ~clear;
    st.flags_clear = (st.flags_clear | clear) & ~set;
}

const char* fake_init_args(void) {
    const std::lock_guard lock(state_mutex());
    return state().init_args.c_str();
}

int fake_initialized(void) {
    const std::lock_guard lock(state_mutex());
    return state().initialized_here() ? 1 : 0;
}

void fake_set_sign_delay_us(unsigned long us) {
    const std::lock_guard lock(state_mutex());
    state().sign_delay_us = us;
}

} // extern "C"
