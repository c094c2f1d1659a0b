#include "pkcs11/fork.hpp"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <vector>

namespace hsmp::p11 {

namespace {

struct Entry {
    std::mutex* mutex;
    LockRank rank;
    std::uint64_t seq;
};

// Leaked on purpose: fork handlers can run during static destruction and the provider may
// be dlclose'd; a never-destroyed registry keeps both safe.
struct Registry {
    std::mutex mutex;
    std::vector<Entry> entries; // kept sorted by (rank, seq)
    std::uint64_t next_seq = 0;
};

Registry& registry() {
    static auto* r = new Registry(); // NOLINT(cppcoreguidelines-owning-memory)
    return *r;
}

std::atomic<std::uint64_t> g_generation{1};
std::atomic<pid_t> g_pid{0};

void fork_prepare() noexcept {
    Registry& r = registry();
    r.mutex.lock();
    for (const Entry& e : r.entries) {
        e.mutex->lock();
    }
}

void fork_release() noexcept {
    Registry& r = registry();
    for (auto it = r.entries.rbegin(); it != r.entries.rend(); ++it) {
        it->mutex->unlock();
    }
    r.mutex.unlock();
}

void fork_child() noexcept {
    // No PKCS#11 call here: only mark the state stale.
    g_pid.store(getpid(), std::memory_order_relaxed);
    g_generation.fetch_add(1, std::memory_order_acq_rel);
    fork_release();
}

void install_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        g_pid.store(getpid(), std::memory_order_relaxed);
        (void)pthread_atfork(fork_prepare, fork_release, fork_child);
    });
}

} // namespace

std::uint64_t process_generation() noexcept {
    install_once();
    const pid_t now = getpid();
    pid_t seen = g_pid.load(std::memory_order_relaxed);
    if (seen != now && g_pid.compare_exchange_strong(seen, now)) {
        // A fork that ran no atfork handler.
        g_generation.fetch_add(1, std::memory_order_acq_rel);
    }
    return g_generation.load(std::memory_order_acquire);
}

ForkLock::ForkLock(std::mutex& mutex, LockRank rank) : m_mutex(&mutex) {
    install_once();
    Registry& r = registry();
    const std::lock_guard guard(r.mutex);
    const Entry entry{m_mutex, rank, r.next_seq++};
    auto pos = std::upper_bound(r.entries.begin(), r.entries.end(), entry,
                                [](const Entry& a, const Entry& b) {
                                    return a.rank != b.rank ? a.rank < b.rank : a.seq < b.seq;
                                });
    r.entries.insert(pos, entry);
}

ForkLock::~ForkLock() {
    Registry& r = registry();
    const std::lock_guard guard(r.mutex);
    std::erase_if(r.entries, [this](const Entry& e) { return e.mutex == m_mutex; });
}

} // namespace hsmp::p11
