// One token in one module: its identity, current slot, login state and session pool.
//
// A Token survives fork, re-initialisation and device loss: its slot id is re-discovered by
// identity (never trusted across re-initialisation), its login is redone with the PIN that
// worked before, and everything that holds a Token keeps working (DESIGN.md sections 3, 4).
#pragma once

#include "common/result.hpp"
#include "common/secure_buffer.hpp"
#include "pkcs11/fork.hpp"
#include "pkcs11/module.hpp"
#include "pkcs11/pin.hpp"
#include "pkcs11/session_pool.hpp"

#include <p11uri/uri.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace hsmp::p11 {

/// What makes a token the same token after re-enumeration.
struct TokenIdentity {
    std::string label, manufacturer, model, serial;
    bool operator==(const TokenIdentity&) const = default;
    /// `token "web" (serial 1a2b)` for messages.
    [[nodiscard]] std::string describe() const;
    [[nodiscard]] uri::TokenInfo uri_info() const { return {label, manufacturer, serial, model}; }
};

/// Reads the identity fields of a CK_TOKEN_INFO (blank padding removed).
[[nodiscard]] TokenIdentity identity_of(const CK_TOKEN_INFO& info);

struct TokenConfig {
    PoolConfig pool;
    /// pkcs11-module-cache-keys: use a session-object copy of a private key for operations
    /// (tokens that read token objects from storage on every use, like SoftHSM2, are much
    /// faster with it). Falls back to the token object when the token refuses the copy.
    bool cache_keys = true;
    /// Attempts to find the token again right after a re-initialisation (SoftHSM2 2.6.1
    /// races when several processes re-initialise at once), with linear backoff.
    int refind_attempts = 8;
    std::chrono::milliseconds refind_backoff{20};
    /// After the token was found missing, calls fail fast until this much time passed
    /// (doubling up to the max), so a dead HSM does not stall every caller.
    std::chrono::milliseconds retry_min{50};
    std::chrono::milliseconds retry_max{2000};
};

class Token : public std::enable_shared_from_this<Token> {
public:
    static std::shared_ptr<Token> create(std::shared_ptr<Module> module, CK_SLOT_ID slot,
                                         const CK_TOKEN_INFO& info, TokenConfig config);
    Token(const Token&) = delete;
    Token& operator=(const Token&) = delete;

    [[nodiscard]] const TokenIdentity& identity() const noexcept { return m_identity; }
    [[nodiscard]] Module& module() const noexcept { return *m_module; }
    [[nodiscard]] const std::shared_ptr<Module>& module_ptr() const noexcept { return m_module; }
    [[nodiscard]] CK_SLOT_ID slot_id() const noexcept { return m_slot.load(); }
    [[nodiscard]] SessionPool& pool() const noexcept { return *m_pool; }

    /// Incremented each time the token was found again (after fork, re-initialisation or
    /// device loss). Object handles of an older generation must be looked up again.
    [[nodiscard]] std::uint64_t generation() const noexcept { return m_generation.load(); }

    /// Makes the token usable in this process: module initialised, slot re-matched by
    /// identity, login redone, with bounded retries. Cheap when nothing changed.
    Result<void> ensure_ready();

    /// A session from the pool, after ensure_ready().
    Result<SessionLease> session();

    /// Logs the user in if the token needs it and nobody has yet (DESIGN.md section 4).
    Result<void> login(const PinSources& sources);
    [[nodiscard]] bool logged_in() const;
    /// True when the token wants a login before private objects are visible.
    [[nodiscard]] bool login_required() const noexcept { return m_login_required; }

    /// Reports a failure seen while using a session. Device and session loss make the token
    /// be found again on next use; a lost login is redone. Returns true if the operation is
    /// worth one retry on a fresh session.
    bool recover(const Error& error);

    /// A session-object copy (CKA_TOKEN = false) of `object`, made on the token's
    /// long-lived login session so every pooled session can use it and it lives as long as
    /// the login. Fails when the token refuses copies; the caller then uses the original.
    Result<CK_OBJECT_HANDLE> session_copy(CK_OBJECT_HANDLE object);
    [[nodiscard]] const TokenConfig& config() const noexcept { return m_config; }

    /// The token's mechanism list (read once per generation).
    Result<std::vector<CK_MECHANISM_TYPE>> mechanisms();
    [[nodiscard]] bool has_mechanism(CK_MECHANISM_TYPE mechanism);

    /// Runs `op(lease)` with a leased session; on device/session loss or a lost login it
    /// recovers and retries once on a fresh session (DESIGN.md section 3).
    template <class F> auto with_session(F&& op) -> decltype(op(std::declval<SessionLease&>())) {
        for (int attempt = 0;; ++attempt) {
            auto lease = session();
            if (!lease) {
                return lease.error();
            }
            auto result = op(lease.value());
            if (result || attempt > 0) {
                return result;
            }
            if (!recover(result.error())) {
                return result;
            }
            lease->invalidate();
        }
    }

private:
    Token(std::shared_ptr<Module> module, CK_SLOT_ID slot, const CK_TOKEN_INFO& info,
          TokenConfig config);
    Result<void> refresh_locked();
    Result<CK_SLOT_ID> find_slot_locked(CK_RV& last_rv);
    Result<void> login_locked(const PinSources* sources);
    Result<void> authenticate_locked(const PinSources* sources, CK_FLAGS flags, std::uint64_t gen);
    Result<void> try_login_locked(const Pin& pin);

    std::shared_ptr<Module> m_module;
    TokenIdentity m_identity;
    TokenConfig m_config;
    std::shared_ptr<SessionPool> m_pool;
    bool m_login_required;

    std::atomic<CK_SLOT_ID> m_slot;
    std::atomic<std::uint64_t> m_generation{1};
    std::atomic<std::uint64_t> m_ready_epoch{0}; // module epoch the slot is valid for
    std::atomic<bool> m_lost{false};             // device or session loss seen

    // Held across C_Login and re-discovery; rank Token (before Module and Pool).
    mutable std::mutex m_mutex;
    ForkLock m_fork_lock{m_mutex, LockRank::Token};
    bool m_want_login = false;                // a login succeeded once: redo after loss
    std::uint64_t m_login_generation = 0;     // generation in which we are logged in
    std::optional<SecureBuffer> m_cached_pin; // the PIN that worked (DESIGN.md section 4)
    std::vector<SecureBuffer> m_failed_pins;  // PINs that got CKR_PIN_INCORRECT
    SessionLease m_login_session;             // keeps the login alive
    std::vector<CK_MECHANISM_TYPE> m_mechanisms;
    std::uint64_t m_mechanisms_generation = 0;
    std::chrono::steady_clock::time_point m_retry_after{};
    std::chrono::milliseconds m_retry_delay{0};
    std::optional<Error> m_last_error;
};

} // namespace hsmp::p11
