// A bounded pool of PKCS#11 sessions on one token (DESIGN.md section 3).
//
// The pool never holds its mutex across a PKCS#11 call. Its bound is the lower of the
// token's ulMaxSessionCount and the configured cap; when every session is leased, callers
// wait on a condition variable up to a bounded timeout and then fail with a named error.
// A lease whose operation did not finish is closed, never handed out again as clean.
#pragma once

#include "common/result.hpp"
#include "pkcs11/fork.hpp"
#include "pkcs11/module.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace hsmp::p11 {

class SessionPool;

/// Exclusive use of one session; returns it to its pool on destruction.
class SessionLease {
public:
    SessionLease() = default;
    ~SessionLease();
    SessionLease(SessionLease&& other) noexcept;
    SessionLease& operator=(SessionLease&& other) noexcept;
    SessionLease(const SessionLease&) = delete;
    SessionLease& operator=(const SessionLease&) = delete;

    [[nodiscard]] CK_SESSION_HANDLE handle() const noexcept { return m_handle; }
    [[nodiscard]] bool valid() const noexcept { return m_pool != nullptr; }
    [[nodiscard]] const Module& module() const noexcept;

    /// Marks a multi-call operation (C_SignInit .. C_Sign) as in progress; a lease
    /// released while one is in progress is closed instead of reused.
    void begin_operation() noexcept { m_in_operation = true; }
    void end_operation() noexcept { m_in_operation = false; }
    /// The session is broken (device removed, handle invalid): drop it.
    void invalidate() noexcept { m_broken = true; }
    /// Returns the session to the pool now.
    void release() noexcept;

private:
    friend class SessionPool;
    SessionLease(std::shared_ptr<SessionPool> pool, CK_SESSION_HANDLE handle,
                 std::uint64_t generation) noexcept
        : m_pool(std::move(pool)), m_handle(handle), m_generation(generation) {}

    std::shared_ptr<SessionPool> m_pool;
    CK_SESSION_HANDLE m_handle = CK_INVALID_HANDLE;
    std::uint64_t m_generation = 0;
    bool m_in_operation = false;
    bool m_broken = false;
};

struct PoolConfig {
    std::size_t cap = 32;                 ///< configured upper bound of open sessions
    std::chrono::milliseconds wait{5000}; ///< how long acquire() waits for a free one
    std::size_t max_idle = 8;             ///< idle sessions kept open for reuse
};

class SessionPool : public std::enable_shared_from_this<SessionPool> {
public:
    /// `token_limit` is CK_TOKEN_INFO.ulMaxSessionCount (0 / CK_EFFECTIVELY_INFINITE /
    /// CK_UNAVAILABLE_INFORMATION mean "no limit of its own"). `name` is used in messages.
    static std::shared_ptr<SessionPool> create(std::shared_ptr<const Module> module,
                                               PoolConfig config, CK_ULONG token_limit,
                                               std::string name);
    ~SessionPool();
    SessionPool(const SessionPool&) = delete;
    SessionPool& operator=(const SessionPool&) = delete;

    /// Leases a session on `slot`, opening one if none is idle and the bound allows.
    Result<SessionLease> acquire(CK_SLOT_ID slot);

    /// Starts a new generation: idle sessions are forgotten (closed first when
    /// `close_idle`, i.e. when the module state is still ours), outstanding leases of the
    /// old generation are dropped when they come back. After a fork `close_idle` is false:
    /// handles inherited from the parent are meaningless in the child.
    void reset(bool close_idle);

    [[nodiscard]] std::size_t cap() const;
    [[nodiscard]] std::size_t open_count() const;
    [[nodiscard]] std::size_t idle_count() const;
    [[nodiscard]] std::uint64_t generation() const;

private:
    SessionPool(std::shared_ptr<const Module> module, PoolConfig config, CK_ULONG token_limit,
                std::string name);
    friend class SessionLease;
    void give_back(CK_SESSION_HANDLE handle, std::uint64_t generation, bool reusable) noexcept;
    void close_session(CK_SESSION_HANDLE handle) const noexcept;

    std::shared_ptr<const Module> m_module;
    PoolConfig m_config;
    std::string m_name;

    mutable std::mutex m_mutex;
    ForkLock m_fork_lock{m_mutex, LockRank::Pool};
    std::condition_variable m_cv;
    std::vector<CK_SESSION_HANDLE> m_idle;
    std::size_t m_open = 0; // sessions of this generation, idle or leased
    std::size_t m_cap = 0;  // effective bound; lowered when the token says CKR_SESSION_COUNT
    std::uint64_t m_generation = 1;
};

} // namespace hsmp::p11
