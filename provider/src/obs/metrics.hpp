// Provider metrics, aggregated across every process that shares the provider's state
// (DESIGN.md section 7).
//
// nginx and HAProxy load the provider in a master process and fork workers from it; the
// master keeps the loaded provider across `nginx -s reload`. The counters therefore live
// in one MetricsTable placed in a MAP_SHARED | MAP_ANONYMOUS mapping made at the first
// provider init (process_table()): every process forked after that increments the same
// lock-free atomics, and any of them renders the sum.
//
// Recording (record()) is on the operation's hot path: it never blocks, never allocates,
// never calls into PKCS#11. It costs a hash of the key's identity, a probe of a fixed
// open-addressed table and a few relaxed atomic increments. Series are never removed; a
// new key takes a slot by compare-and-swap on the slot's state word, so processes that
// meet the same new key at the same moment agree on one slot. When the table is full the
// event is counted in an overflow series with empty labels, and hsm_metrics_dropped_total
// counts it.
//
// Rendering (render()) produces the Prometheus text exposition format 0.0.4. It reads the
// counters one by one without stopping writers: each value is exact, the whole is not a
// single instant (a histogram's _count always equals its +Inf bucket).
#pragma once

#include "common/result.hpp"
#include "obs/events.hpp"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace hsmp::obs {

// Counters shared across processes must be address-free: only lock-free atomics are.
static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "cross-process metrics need lock-free 64-bit atomics");

/// One upper bound of hsm_operation_duration_seconds: exact nanoseconds and the `le` text.
struct DurationBucket {
    std::int64_t ns;
    std::string_view le;
};

/// 100 µs to 1 s: a software token signs in 0.1–2 ms, a network HSM in 1–50 ms, a
/// congested one in hundreds.
inline constexpr std::array<DurationBucket, 13> kDurationBuckets{{
    {100'000, "0.0001"},
    {250'000, "0.00025"},
    {500'000, "0.0005"},
    {1'000'000, "0.001"},
    {2'500'000, "0.0025"},
    {5'000'000, "0.005"},
    {10'000'000, "0.01"},
    {25'000'000, "0.025"},
    {50'000'000, "0.05"},
    {100'000'000, "0.1"},
    {250'000'000, "0.25"},
    {500'000'000, "0.5"},
    {1'000'000'000, "1"},
}};

namespace detail {

/// A label value as stored in the table: up to N bytes, plus a hash of the whole value so
/// a value longer than N still tells apart from another with the same first N bytes.
template <std::size_t N> struct StoredText {
    std::uint32_t hash;   ///< FNV-1a of the whole value
    std::uint16_t size;   ///< bytes stored (<= N)
    std::uint8_t clipped; ///< 1 when the value was longer than N
    std::array<char, N> bytes;
};

using Counter = std::atomic<std::uint64_t>;
/// Index of a counter pair: result="ok" and result="error".
enum ResultIndex : std::size_t { kOk = 0, kError = 1, kResultCount = 2 };

/// One key's series. `state` is 0 (empty), or the identity's hash in the upper 62 bits
/// with kWriting or kReady in the lower two; the identity fields are written once by the
/// process that claimed the slot, before it publishes kReady.
/// The counters start on a cache line of their own: every record() reads the identity
/// above to find the slot while other threads (and processes) increment the counters, and
/// sharing a line would make each of those reads a cache miss (false sharing). Today's
/// field sizes happen to put them at offset 256 of a 320-byte slot; the alignment keeps it
/// so when a field changes.
struct KeySlot {
    std::atomic<std::uint64_t> state;
    StoredText<32> serial; // CK_TOKEN_INFO.serialNumber is 16 bytes
    StoredText<128> label;
    StoredText<64> id; // raw CKA_ID bytes, rendered as hex
    alignas(64) std::array<std::array<Counter, kResultCount>, kKeyOperationCount> operations;
    std::array<Counter, kResultCount> loads;
};

/// One token's series (login failures).
struct TokenSlot {
    std::atomic<std::uint64_t> state;
    StoredText<32> serial;
    Counter authentication_failures;
};

/// hsm_operation_duration_seconds for one operation: per-bucket (not cumulative) counts,
/// the last one for > 1 s, and the sum in nanoseconds (integer, so addition is exact).
struct Histogram {
    std::array<Counter, kDurationBuckets.size() + 1> buckets;
    Counter sum_ns;
};

} // namespace detail

class MetricsTable {
public:
    static constexpr std::size_t kKeyCapacity = 256;
    static constexpr std::size_t kTokenCapacity = 64;

    /// All counters zero, no series. Meant to be placed in zeroed shared memory
    /// (map_shared_table) or, for tests, on the heap.
    MetricsTable() noexcept = default;
    MetricsTable(const MetricsTable&) = delete;
    MetricsTable& operator=(const MetricsTable&) = delete;

    /// Counts one event: key operations per key, operation and result plus the latency
    /// histogram; key loads per key and result; logins that were Denied per token. Other
    /// events (a login that failed for another reason) are not metrics.
    void record(const OpEvent& event) noexcept;

    /// The whole table in Prometheus text format (every family with HELP and TYPE).
    [[nodiscard]] std::string render() const;

    /// Events counted in an overflow series because a table was full.
    [[nodiscard]] std::uint64_t dropped() const noexcept {
        return m_dropped.load(std::memory_order_relaxed);
    }

private:
    detail::KeySlot& key_slot(const OpEvent& event) noexcept;
    detail::TokenSlot& token_slot(std::string_view serial) noexcept;
    void render_operations(std::string& out) const;
    void render_durations(std::string& out) const;
    void render_loads(std::string& out) const;
    void render_authentication(std::string& out) const;

    std::array<detail::KeySlot, kKeyCapacity> m_keys{};
    detail::KeySlot m_key_overflow{};
    std::array<detail::TokenSlot, kTokenCapacity> m_tokens{};
    detail::TokenSlot m_token_overflow{};
    std::array<detail::Histogram, kKeyOperationCount> m_durations{};
    detail::Counter m_dropped{0};
};

static_assert(std::is_standard_layout_v<MetricsTable>);

/// Maps a new zeroed table in MAP_SHARED | MAP_ANONYMOUS memory: this process and every
/// child forked from it afterwards share its counters.
[[nodiscard]] Result<MetricsTable*> map_shared_table();
/// Unmaps a table from map_shared_table() (tests; the process table is never unmapped).
void unmap_shared_table(MetricsTable* table) noexcept;

/// The process's table, shared by every provider instance in it: mapped by the first call
/// (the abi layer calls it at provider init, before a host forks its workers) and kept for
/// the life of the process. Lock-free; concurrent first calls agree on one table.
[[nodiscard]] Result<MetricsTable*> process_table();

/// The table process_table() made, or nullptr when none was made yet or mapping failed.
[[nodiscard]] MetricsTable* current_process_table() noexcept;

/// An OpObserver that records into current_process_table().
void record_process_event(const OpEvent& event) noexcept;

} // namespace hsmp::obs
