#include "pkcs11/token.hpp"

#include "pkcs11/observe.hpp"

#include <unistd.h>

#include <algorithm>
#include <random>
#include <thread>
#include <utility>

namespace hsmp::p11 {

namespace {

// Failures that right after a (re-)initialisation mean "not ready yet" rather than "wrong".
// SoftHSM2 2.6.1 rewrites its token file on every C_Login; a process that reads it at that
// moment sees no token, CKR_GENERAL_ERROR, or CKR_USER_PIN_NOT_INITIALIZED (measured: about
// 3% of process starts while other processes log in). None of these consumed a PIN try.
bool is_transient_after_reinit(CK_RV rv) {
    return rv == CKR_SLOT_ID_INVALID || rv == CKR_TOKEN_NOT_PRESENT ||
           rv == CKR_TOKEN_NOT_RECOGNIZED || rv == CKR_CRYPTOKI_NOT_INITIALIZED ||
           rv == CKR_DEVICE_REMOVED || rv == CKR_DEVICE_ERROR || rv == CKR_GENERAL_ERROR ||
           rv == CKR_USER_PIN_NOT_INITIALIZED || rv == CKR_SESSION_HANDLE_INVALID ||
           rv == CKR_SESSION_CLOSED;
}

// Linear backoff with jitter, so processes started together do not retry in lockstep.
std::chrono::milliseconds backoff(std::chrono::milliseconds base, int attempt) {
    static thread_local std::minstd_rand rng(static_cast<unsigned>(
        std::chrono::steady_clock::now().time_since_epoch().count() ^ getpid()));
    const auto jitter = std::uniform_int_distribution<long>(0, base.count())(rng);
    return base * attempt + std::chrono::milliseconds(jitter);
}

} // namespace

std::string TokenIdentity::describe() const {
    return "token \"" + label + "\" (serial " + (serial.empty() ? "none" : serial) + ")";
}

TokenIdentity identity_of(const CK_TOKEN_INFO& info) {
    return TokenIdentity{
        uri::trim_padded(info.label, sizeof info.label),
        uri::trim_padded(info.manufacturerID, sizeof info.manufacturerID),
        uri::trim_padded(info.model, sizeof info.model),
        uri::trim_padded(info.serialNumber, sizeof info.serialNumber),
    };
}

std::shared_ptr<Token> Token::create(std::shared_ptr<Module> module, CK_SLOT_ID slot,
                                     const CK_TOKEN_INFO& info, TokenConfig config) {
    return std::shared_ptr<Token>(new Token(std::move(module), slot, info, config));
}

Token::Token(std::shared_ptr<Module> module, CK_SLOT_ID slot, const CK_TOKEN_INFO& info,
             TokenConfig config)
    : m_module(std::move(module)), m_identity(identity_of(info)), m_config(config),
      m_pool(SessionPool::create(m_module, config.pool, info.ulMaxSessionCount,
                                 m_identity.describe())),
      m_login_required((info.flags & CKF_LOGIN_REQUIRED) != 0), m_slot(slot),
      m_ready_epoch(m_module->epoch()) {}

Result<void> Token::ensure_ready() {
    if (auto init = m_module->ensure_initialized(); !init) {
        return init.error().with_context(m_identity.describe());
    }
    if (m_ready_epoch.load(std::memory_order_acquire) == m_module->epoch() &&
        !m_lost.load(std::memory_order_acquire)) {
        return ok();
    }
    const std::lock_guard lock(m_mutex);
    if (m_ready_epoch.load(std::memory_order_relaxed) == m_module->epoch() &&
        !m_lost.load(std::memory_order_relaxed)) {
        return ok();
    }
    return refresh_locked();
}

Result<CK_SLOT_ID> Token::find_slot_locked(CK_RV& last_rv) {
    const Module& mod = *m_module;
    CK_ULONG count = 0;
    last_rv = mod.call("C_GetSlotList", &CK_FUNCTION_LIST::C_GetSlotList, CK_BBOOL{CK_TRUE},
                       nullptr, &count);
    std::vector<CK_SLOT_ID> slots;
    if (last_rv == CKR_OK && count > 0) {
        slots.resize(count);
        last_rv = mod.call("C_GetSlotList", &CK_FUNCTION_LIST::C_GetSlotList, CK_BBOOL{CK_TRUE},
                           slots.data(), &count);
        slots.resize(last_rv == CKR_OK ? count : 0);
    }
    if (last_rv != CKR_OK) {
        return rv_error("C_GetSlotList", last_rv, "finding " + m_identity.describe());
    }
    for (const CK_SLOT_ID slot : slots) {
        CK_TOKEN_INFO info{};
        if (mod.call("C_GetTokenInfo", &CK_FUNCTION_LIST::C_GetTokenInfo, slot, &info) != CKR_OK) {
            continue;
        }
        if (identity_of(info) == m_identity) {
            return slot;
        }
    }
    return Error(Code::Unavailable, m_identity.describe() + " is not present in module \"" +
                                        mod.path() + "\" (" + std::to_string(slots.size()) +
                                        " token(s) present)");
}

Result<void> Token::refresh_locked() {
    const auto now = std::chrono::steady_clock::now();
    if (m_last_error && now < m_retry_after) {
        // Fail fast while a lost token is in its backoff window.
        return m_last_error->with_context(
            "still unavailable, next attempt in " +
            std::to_string(
                std::chrono::duration_cast<std::chrono::milliseconds>(m_retry_after - now)
                    .count()) +
            " ms");
    }
    bool after_reinit = m_ready_epoch.load() != m_module->epoch();
    std::optional<Error> failure;
    bool reinit_next = false;
    // Many attempts only right after a re-initialisation (the SoftHSM race); a token that
    // went away otherwise is looked for twice, then fails fast until its backoff expires.
    const int attempts = after_reinit ? m_config.refind_attempts : 2;
    for (int attempt = 0; attempt < attempts; ++attempt) {
        if (attempt > 0) {
            std::this_thread::sleep_for(backoff(m_config.refind_backoff, attempt));
        }
        if (reinit_next) {
            // SoftHSM2 reads its token file once, in C_Initialize: a read that raced with
            // another process's write stays wrong until the module is initialised again.
            if (auto re = m_module->reinitialize(); !re) {
                failure = re.error();
                continue;
            }
            after_reinit = true; // every handle from before is void now
            reinit_next = false;
        }
        CK_RV rv = CKR_OK;
        auto slot = find_slot_locked(rv);
        if (!slot) {
            failure = slot.error();
            if (rv != CKR_OK && !is_transient_after_reinit(rv)) {
                break;
            }
            // Not found, or the module lost its initialisation: initialise it again if the
            // state may be a stale read, or if someone finalised the module under us. A
            // module that cannot even list its slots (a remote HSM client whose server went
            // away: p11-kit-client.so answers CKR_DEVICE_ERROR for good) only reconnects
            // when it is initialised again.
            const bool module_down = rv == CKR_DEVICE_ERROR || rv == CKR_DEVICE_REMOVED;
            reinit_next = after_reinit || module_down || rv == CKR_CRYPTOKI_NOT_INITIALIZED;
            continue;
        }
        // Found: new session generation on the (possibly new) slot.
        m_slot.store(slot.value());
        m_login_session = SessionLease();
        m_pool->reset(!after_reinit);
        m_generation.fetch_add(1);
        m_ready_epoch.store(m_module->epoch());
        m_lost.store(false);
        if (m_want_login) {
            if (auto relogin = login_locked(nullptr); !relogin) {
                failure = relogin.error();
                const bool transient =
                    relogin.error().has_rv() && is_transient_after_reinit(relogin.error().rv());
                if (transient || relogin.error().code() == Code::Unavailable) {
                    m_lost.store(true);
                    reinit_next = after_reinit;
                    continue;
                }
                m_last_error.reset();
                return *failure;
            }
        }
        m_last_error.reset();
        m_retry_delay = std::chrono::milliseconds(0);
        return ok();
    }
    m_lost.store(true);
    m_retry_delay = std::clamp(m_retry_delay * 2, m_config.retry_min, m_config.retry_max);
    m_retry_after = std::chrono::steady_clock::now() + m_retry_delay;
    m_last_error = failure ? *failure : Error(Code::Unavailable, m_identity.describe());
    return *m_last_error;
}

Result<SessionLease> Token::session() {
    if (auto ready = ensure_ready(); !ready) {
        return ready.error();
    }
    return m_pool->acquire(m_slot.load());
}

bool Token::logged_in() const {
    const std::lock_guard lock(m_mutex);
    return m_login_generation == m_generation.load();
}

Result<void> Token::login(const PinSources& sources) {
    if (auto ready = ensure_ready(); !ready) {
        return ready.error();
    }
    const std::lock_guard lock(m_mutex);
    return login_locked(&sources);
}

Result<void> Token::login_locked(const PinSources* sources) {
    const std::uint64_t gen = m_generation.load();
    if (m_login_generation == gen) {
        return ok();
    }
    const Module& mod = *m_module;
    CK_TOKEN_INFO info{};
    if (auto r = mod.check("C_GetTokenInfo", m_identity.describe(),
                           &CK_FUNCTION_LIST::C_GetTokenInfo, m_slot.load(), &info);
        !r) {
        return r.error();
    }
    if ((info.flags & CKF_LOGIN_REQUIRED) == 0) {
        m_login_generation = gen;
        return ok();
    }
    // From here on this is a login attempt, and it is reported whether the token or the
    // anti-lockout rules refused it (DESIGN.md section 7: login failures are audited).
    const auto start = std::chrono::steady_clock::now();
    auto result = authenticate_locked(sources, info.flags, gen);
    report_login(*this, result ? nullptr : &result.error(),
                 std::chrono::steady_clock::now() - start);
    return result;
}

Result<void> Token::authenticate_locked(const PinSources* sources, CK_FLAGS flags,
                                        std::uint64_t gen) {
    const Module& mod = *m_module;
    if ((flags & CKF_USER_PIN_LOCKED) != 0) {
        return Error(Code::Locked, "the user PIN of " + m_identity.describe() +
                                       " is locked (CKF_USER_PIN_LOCKED): the security officer "
                                       "must reset it");
    }
    if (!m_login_session.valid()) {
        auto lease = m_pool->acquire(m_slot.load());
        if (!lease) {
            return lease.error().with_context("opening the login session");
        }
        m_login_session = std::move(lease).value();
    }
    if ((flags & CKF_PROTECTED_AUTHENTICATION_PATH) != 0) {
        // PIN pad or biometric: the token asks for the PIN itself.
        const CK_RV rv = mod.call("C_Login", &CK_FUNCTION_LIST::C_Login, m_login_session.handle(),
                                  CK_USER_TYPE{CKU_USER}, nullptr, CK_ULONG{0});
        if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
            return rv_error("C_Login", rv, m_identity.describe() + " (protected path)");
        }
        m_want_login = true;
        m_login_generation = gen;
        return ok();
    }
    if ((flags & CKF_USER_PIN_FINAL_TRY) != 0) {
        return Error(Code::Unauthenticated,
                     "refusing to log in to " + m_identity.describe() +
                         ": the token reports CKF_USER_PIN_FINAL_TRY and one more wrong PIN "
                         "would lock it; log in once with the correct PIN using another tool "
                         "(e.g. pkcs11-tool --login) to reset the counter");
    }

    // The first PIN source present wins; on failure no other source is tried, so a wrong
    // configuration cannot burn the token's retry counter.
    std::optional<Pin> chosen;
    if (sources != nullptr && sources->uri_pin) {
        chosen.emplace(Pin{sources->uri_pin->value.clone(), sources->uri_pin->source});
    } else if (sources != nullptr && sources->config_pin) {
        chosen.emplace(Pin{sources->config_pin->value.clone(), sources->config_pin->source});
    } else if (sources != nullptr && sources->config_pin_error) {
        return *sources->config_pin_error;
    } else if (m_cached_pin) {
        chosen.emplace(Pin{m_cached_pin->clone(), "the PIN cached from an earlier login"});
    } else if (sources != nullptr && sources->callback) {
        auto pin = sources->callback(m_identity.describe());
        if (!pin) {
            return pin.error().with_context("asking the application for the PIN of " +
                                            m_identity.describe());
        }
        chosen.emplace(Pin{std::move(pin).value(), "the application's passphrase callback"});
    }
    if (!chosen) {
        return Error(Code::Unauthenticated,
                     m_identity.describe() +
                         " needs a user PIN and none was given (set "
                         "pkcs11-module-token-pin, a pin-source in the URI, or a passphrase "
                         "callback)");
    }
    return try_login_locked(*chosen);
}

Result<void> Token::try_login_locked(const Pin& pin) {
    for (const SecureBuffer& failed : m_failed_pins) {
        if (failed.equals(pin.value.view())) {
            return Error(Code::Unauthenticated, "refusing to log in to " + m_identity.describe() +
                                                    " with " + pin.source +
                                                    ": that PIN was rejected before "
                                                    "(CKR_PIN_INCORRECT) and is never retried");
        }
    }
    const CK_RV rv =
        m_module->call("C_Login", &CK_FUNCTION_LIST::C_Login, m_login_session.handle(),
                       CK_USER_TYPE{CKU_USER}, const_cast<CK_UTF8CHAR*>(pin.value.data()), // NOLINT
                       static_cast<CK_ULONG>(pin.value.size()));
    if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
        // Only a PIN the token checked is cached: CKR_USER_ALREADY_LOGGED_IN (another user
        // of the module in this process logged in) says nothing about this PIN.
        if (rv == CKR_OK) {
            m_cached_pin = pin.value.clone();
        }
        m_want_login = true;
        m_login_generation = m_generation.load();
        return ok();
    }
    if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE) {
        if (m_failed_pins.size() < 16) {
            m_failed_pins.push_back(pin.value.clone());
        }
        if (m_cached_pin && m_cached_pin->equals(pin.value.view())) {
            m_cached_pin.reset();
        }
    }
    if (rv == CKR_PIN_LOCKED) {
        return Error(Code::Locked, "C_Login", rv, rv_describe(rv),
                     "the user PIN of " + m_identity.describe() +
                         " is locked: the security officer must reset it");
    }
    if (rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED) {
        m_login_session.invalidate();
        m_login_session = SessionLease();
    }
    return rv_error("C_Login", rv, m_identity.describe() + " with " + pin.source);
}

bool Token::recover(const Error& error) {
    if (!error.has_rv()) {
        return false;
    }
    switch (rv_class(error.rv())) {
    case RvClass::Reconnect: {
        m_lost.store(true);
        return true;
    }
    case RvClass::Relogin: {
        const std::lock_guard lock(m_mutex);
        m_login_generation = 0;
        return m_want_login && login_locked(nullptr).ok();
    }
    default:
        return false;
    }
}

Result<CK_OBJECT_HANDLE> Token::session_copy(CK_OBJECT_HANDLE object) {
    const std::lock_guard lock(m_mutex);
    if (!m_login_session.valid()) {
        // A token without login: keep one session open to own the copies.
        auto lease = m_pool->acquire(m_slot.load());
        if (!lease) {
            return lease.error();
        }
        m_login_session = std::move(lease).value();
    }
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {{CKA_TOKEN, &no, sizeof no}};
    CK_OBJECT_HANDLE copy = CK_INVALID_HANDLE;
    const CK_RV rv = m_module->call("C_CopyObject", &CK_FUNCTION_LIST::C_CopyObject,
                                    m_login_session.handle(), object, tmpl, CK_ULONG{1}, &copy);
    if (rv != CKR_OK) {
        return rv_error("C_CopyObject", rv, m_identity.describe());
    }
    return copy;
}

Result<std::vector<CK_MECHANISM_TYPE>> Token::mechanisms() {
    if (auto ready = ensure_ready(); !ready) {
        return ready.error();
    }
    const std::lock_guard lock(m_mutex);
    if (m_mechanisms_generation == m_generation.load()) {
        return m_mechanisms;
    }
    auto list = m_module->mechanism_list(m_slot.load(), m_identity.describe());
    if (!list) {
        return list.error();
    }
    m_mechanisms = std::move(list).value();
    m_mechanisms_generation = m_generation.load();
    return m_mechanisms;
}

bool Token::has_mechanism(CK_MECHANISM_TYPE mechanism) {
    auto list = mechanisms();
    return list && std::binary_search(list->begin(), list->end(), mechanism);
}

} // namespace hsmp::p11
