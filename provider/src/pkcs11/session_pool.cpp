#include "pkcs11/session_pool.hpp"

#include <algorithm>
#include <optional>
#include <utility>

namespace hsmp::p11 {

// ---- SessionLease -----------------------------------------------------------------------

SessionLease::~SessionLease() {
    release();
}

SessionLease::SessionLease(SessionLease&& other) noexcept
    : m_pool(std::move(other.m_pool)), m_handle(other.m_handle), m_generation(other.m_generation),
      m_in_operation(other.m_in_operation), m_broken(other.m_broken) {
    other.m_handle = CK_INVALID_HANDLE;
}

SessionLease& SessionLease::operator=(SessionLease&& other) noexcept {
    if (this != &other) {
        release();
        m_pool = std::move(other.m_pool);
        m_handle = other.m_handle;
        m_generation = other.m_generation;
        m_in_operation = other.m_in_operation;
        m_broken = other.m_broken;
        other.m_handle = CK_INVALID_HANDLE;
    }
    return *this;
}

const Module& SessionLease::module() const noexcept {
    return *m_pool->m_module;
}

void SessionLease::release() noexcept {
    if (m_pool) {
        m_pool->give_back(m_handle, m_generation, !m_in_operation && !m_broken);
        m_pool.reset();
        m_handle = CK_INVALID_HANDLE;
        m_in_operation = false;
        m_broken = false;
    }
}

// ---- SessionPool ------------------------------------------------------------------------

namespace {

std::size_t effective_cap(std::size_t configured, CK_ULONG token_limit) {
    std::size_t cap = std::max<std::size_t>(configured, 1);
    const bool token_has_limit =
        token_limit != CK_EFFECTIVELY_INFINITE && token_limit != CK_UNAVAILABLE_INFORMATION;
    if (token_has_limit) {
        cap = std::min<std::size_t>(cap, token_limit);
    }
    return std::max<std::size_t>(cap, 1);
}

} // namespace

std::shared_ptr<SessionPool> SessionPool::create(std::shared_ptr<const Module> module,
                                                 PoolConfig config, CK_ULONG token_limit,
                                                 std::string name) {
    return std::shared_ptr<SessionPool>(
        new SessionPool(std::move(module), config, token_limit, std::move(name)));
}

SessionPool::SessionPool(std::shared_ptr<const Module> module, PoolConfig config,
                         CK_ULONG token_limit, std::string name)
    : m_module(std::move(module)), m_config(config), m_name(std::move(name)),
      m_cap(effective_cap(config.cap, token_limit)) {}

SessionPool::~SessionPool() {
    // No module call here: pools die at provider teardown, which can run from atexit after
    // the module has finalised itself (SoftHSM crashes then), or in a child whose handles
    // are inherited. Sessions end with the module or the process.
}

Result<SessionLease> SessionPool::acquire(CK_SLOT_ID slot) {
    // The clock is read only when a caller has to wait (an idle session is the usual case).
    std::optional<std::chrono::steady_clock::time_point> deadline;
    std::unique_lock lock(m_mutex);
    for (;;) {
        if (!m_idle.empty()) {
            const CK_SESSION_HANDLE h = m_idle.back();
            m_idle.pop_back();
            return SessionLease(shared_from_this(), h, m_generation);
        }
        if (m_open < m_cap) {
            ++m_open;
            const std::uint64_t gen = m_generation;
            lock.unlock();
            CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
            const CK_RV rv =
                m_module->call("C_OpenSession", &CK_FUNCTION_LIST::C_OpenSession, slot,
                               CK_FLAGS{CKF_SERIAL_SESSION}, nullptr, CK_NOTIFY{nullptr}, &h);
            lock.lock();
            if (rv == CKR_OK) {
                if (gen == m_generation) {
                    return SessionLease(shared_from_this(), h, gen);
                }
                // A reset happened meanwhile: this session belongs to the old state.
                lock.unlock();
                close_session(h);
                lock.lock();
                continue;
            }
            if (gen == m_generation) {
                --m_open;
            }
            if (rv == CKR_SESSION_COUNT && m_open > 0) {
                // The token's real limit is lower than it advertised (or shared with
                // other processes): remember it and wait for a lease to come back.
                m_cap = std::max<std::size_t>(m_open, 1);
            } else {
                m_cv.notify_one();
                return rv_error("C_OpenSession", rv, m_name);
            }
        }
        if (!deadline) {
            deadline = std::chrono::steady_clock::now() + m_config.wait;
        }
        if (m_cv.wait_until(lock, *deadline) == std::cv_status::timeout && m_idle.empty() &&
            m_open >= m_cap) {
            return Error(Code::Unavailable,
                         m_name + ": no PKCS#11 session free: " + std::to_string(m_open) + " of " +
                             std::to_string(m_cap) + " in use after waiting " +
                             std::to_string(m_config.wait.count()) + " ms");
        }
    }
}

void SessionPool::give_back(CK_SESSION_HANDLE handle, std::uint64_t generation,
                            bool reusable) noexcept {
    std::unique_lock lock(m_mutex);
    if (generation != m_generation) {
        return; // from before a reset: not counted, not ours to close
    }
    if (reusable && m_idle.size() < m_config.max_idle) {
        m_idle.push_back(handle);
        lock.unlock();
        m_cv.notify_one();
        return;
    }
    --m_open;
    lock.unlock();
    m_cv.notify_one();
    close_session(handle);
}

void SessionPool::reset(bool close_idle) {
    std::vector<CK_SESSION_HANDLE> idle;
    {
        const std::lock_guard lock(m_mutex);
        idle.swap(m_idle);
        m_open = 0;
        ++m_generation;
    }
    m_cv.notify_all();
    if (close_idle) {
        for (const CK_SESSION_HANDLE h : idle) {
            close_session(h);
        }
    }
}

void SessionPool::close_session(CK_SESSION_HANDLE handle) const noexcept {
    (void)m_module->call("C_CloseSession", &CK_FUNCTION_LIST::C_CloseSession, handle);
}

std::size_t SessionPool::cap() const {
    const std::lock_guard lock(m_mutex);
    return m_cap;
}

std::size_t SessionPool::open_count() const {
    const std::lock_guard lock(m_mutex);
    return m_open;
}

std::size_t SessionPool::idle_count() const {
    const std::lock_guard lock(m_mutex);
    return m_idle.size();
}

std::uint64_t SessionPool::generation() const {
    const std::lock_guard lock(m_mutex);
    return m_generation;
}

} // namespace hsmp::p11
