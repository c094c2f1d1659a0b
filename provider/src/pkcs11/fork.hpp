// Fork detection for the PKCS#11 layer (DESIGN.md section 3).
//
// A PKCS#11 module must be re-initialised in a child process before any other call, and
// handles inherited from the parent are meaningless there. The layer never calls a module
// from a fork handler. Instead it keeps a process generation: the pthread_atfork child
// handler bumps it, and every entry point also compares getpid() with the pid last seen,
// which catches forks that ran no atfork handlers (raw clone, vfork users). Modules,
// tokens and pools remember the generation they were set up in and re-initialise lazily.
//
// The atfork handlers also take every registered lock before fork and release it in both
// parent and child, so a child never inherits a lock held by a thread that does not exist
// there. Locks are taken in rank order (token < module < pool), the order the layer itself
// nests them: a token holds its lock while it re-initialises the module and resets its pool.
#pragma once

#include <cstdint>
#include <mutex>

namespace hsmp::p11 {

/// The current process generation: changes in a child after every fork.
[[nodiscard]] std::uint64_t process_generation() noexcept;

/// Lock ranks: a lock of lower rank is always taken before one of higher rank.
enum class LockRank : std::uint8_t { Token = 0, Module = 1, Pool = 2 };

/// Registers a mutex to be held across fork() (RAII: unregisters on destruction).
class ForkLock {
public:
    ForkLock(std::mutex& mutex, LockRank rank);
    ~ForkLock();
    ForkLock(const ForkLock&) = delete;
    ForkLock& operator=(const ForkLock&) = delete;

private:
    std::mutex* m_mutex;
};

} // namespace hsmp::p11
