#include "obs/metrics.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

namespace hsmp::obs {

namespace {

using detail::KeySlot;
using detail::StoredText;
using detail::TokenSlot;

// Slot state word: the identity hash's upper 62 bits, and the claim status below them.
constexpr std::uint64_t kEmpty = 0;
constexpr std::uint64_t kWriting = 1;
constexpr std::uint64_t kReady = 2;
constexpr std::uint64_t kStatusMask = 3;

// How long a reader waits for another process to finish writing a slot it claimed for the
// same identity (a few hundred bytes of copying). A claimer stopped in that window makes
// the event count as dropped instead of waiting longer.
constexpr int kClaimSpins = 1024;

void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

constexpr std::uint64_t kFnv64Offset = 0xcbf29ce484222325ULL;
constexpr std::uint64_t kFnv64Prime = 0x100000001b3ULL;

std::uint64_t fnv64(std::uint64_t h, const void* data, std::size_t size) noexcept {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < size; ++i) {
        h = (h ^ p[i]) * kFnv64Prime;
    }
    return h;
}

// Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
std::uint64_t fnv64_field(std::uint64_t h, const void* data, std::size_t size) noexcept {
    const auto len = static_cast<std::uint64_t>(size);
    return fnv64(fnv64(h, &len, sizeof len), data, size);
}

// splitmix64's finaliser: spreads FNV's weak low bits over the whole word, which picks
// the first slot.
std::uint64_t mix(std::uint64_t h) noexcept {
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

std::uint32_t fnv32(const void* data, std::size_t size) noexcept {
    const auto* p = static_cast<const unsigned char*>(data);
    std::uint32_t h = 0x811c9dc5U;
    for (std::size_t i = 0; i < size; ++i) {
        h = (h ^ p[i]) * 0x01000193U;
    }
    return h;
}

template <std::size_t N> void store(StoredText<N>& t, const void* data, std::size_t size) noexcept {
    const std::size_t n = std::min(size, N);
    t.hash = fnv32(data, size);
    t.size = static_cast<std::uint16_t>(n);
    t.clipped = size > N ? 1 : 0;
    if (n > 0) {
        std::memcpy(t.bytes.data(), data, n);
    }
}

template <std::size_t N>
bool same(const StoredText<N>& t, const void* data, std::size_t size) noexcept {
    const std::size_t n = std::min(size, N);
    if (t.size != n || (t.clipped != 0) != (size > N)) {
        return false;
    }
    if (n > 0 && std::memcmp(t.bytes.data(), data, n) != 0) {
        return false;
    }
    // A clipped value is the same only if the part that did not fit is too.
    return size <= N || t.hash == fnv32(data, size);
}

// Finds the slot whose identity `matches`, or claims an empty one and `fill`s it. Linear
// probing over the whole table; slots are never freed, so a probe that meets an empty slot
// knows the identity is not further on. nullptr: table full, or a claimer of the same
// identity did not finish in time.
template <class Slot, std::size_t N, class Match, class Fill>
Slot* find_or_claim(std::array<Slot, N>& slots, std::uint64_t hash, Match&& matches,
                    Fill&& fill) noexcept {
    const std::uint64_t tag = hash & ~kStatusMask;
    std::size_t i = static_cast<std::size_t>(hash % N);
    for (std::size_t probe = 0; probe < N; ++probe, i = (i + 1) % N) {
        Slot& slot = slots[i];
        std::uint64_t state = slot.state.load(std::memory_order_acquire);
        if (state == kEmpty) {
            if (slot.state.compare_exchange_strong(state, tag | kWriting, std::memory_order_acq_rel,
                                                   std::memory_order_acquire)) {
                fill(slot);
                slot.state.store(tag | kReady, std::memory_order_release);
                return &slot;
            }
            // Another thread or process claimed it first; `state` is now its claim.
        }
        if ((state & ~kStatusMask) != tag) {
            continue;
        }
        for (int spin = 0; (state & kStatusMask) == kWriting && spin < kClaimSpins; ++spin) {
            cpu_relax();
            state = slot.state.load(std::memory_order_acquire);
        }
        if ((state & kStatusMask) != kReady) {
            return nullptr;
        }
        if (matches(slot)) {
            return &slot;
        }
    }
    return nullptr;
}

std::atomic<MetricsTable*> g_process_table{nullptr};

} // namespace

KeySlot& MetricsTable::key_slot(const OpEvent& event) noexcept {
    const std::string_view serial = event.token_serial;
    const std::string_view label = event.key_label;
    const std::span<const std::uint8_t> id = event.key_id;
    if (serial.empty() && label.empty() && id.empty()) {
        // Would render exactly like the overflow series: it is counted there.
        return m_key_overflow;
    }
    std::uint64_t h = fnv64_field(kFnv64Offset, serial.data(), serial.size());
    h = fnv64_field(h, label.data(), label.size());
    h = mix(fnv64_field(h, id.data(), id.size()));
    KeySlot* slot = find_or_claim(
        m_keys, h,
        [&](const KeySlot& s) {
            return same(s.serial, serial.data(), serial.size()) &&
                   same(s.label, label.data(), label.size()) && same(s.id, id.data(), id.size());
        },
        [&](KeySlot& s) {
            store(s.serial, serial.data(), serial.size());
            store(s.label, label.data(), label.size());
            store(s.id, id.data(), id.size());
        });
    if (slot == nullptr) {
        m_dropped.fetch_add(1, std::memory_order_relaxed);
        return m_key_overflow;
    }
    return *slot;
}

TokenSlot& MetricsTable::token_slot(std::string_view serial) noexcept {
    if (serial.empty()) {
        return m_token_overflow;
    }
    const std::uint64_t h = mix(fnv64_field(kFnv64Offset, serial.data(), serial.size()));
    TokenSlot* slot = find_or_claim(
        m_tokens, h,
        [&](const TokenSlot& s) { return same(s.serial, serial.data(), serial.size()); },
        [&](TokenSlot& s) { store(s.serial, serial.data(), serial.size()); });
    if (slot == nullptr) {
        m_dropped.fetch_add(1, std::memory_order_relaxed);
        return m_token_overflow;
    }
    return *slot;
}

void MetricsTable::record(const OpEvent& event) noexcept {
    const std::size_t result = event.outcome == Outcome::Ok ? detail::kOk : detail::kError;
    if (is_key_operation(event.operation)) {
        const auto op = static_cast<std::size_t>(event.operation);
        key_slot(event).operations[op][result].fetch_add(1, std::memory_order_relaxed);
        const std::int64_t ns = std::max<std::int64_t>(0, event.duration.count());
        std::size_t bucket = 0;
        while (bucket < kDurationBuckets.size() && ns > kDurationBuckets[bucket].ns) {
            ++bucket;
        }
        detail::Histogram& h = m_durations[op];
        h.buckets[bucket].fetch_add(1, std::memory_order_relaxed);
        h.sum_ns.fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
        return;
    }
    switch (event.operation) {
    case Operation::KeyLoad:
        key_slot(event).loads[result].fetch_add(1, std::memory_order_relaxed);
        break;
    case Operation::Login:
        // Only refusals are metrics: a login that failed because the token went away is
        // a device problem, seen in the operations that fail with it.
        if (event.outcome == Outcome::Denied) {
            token_slot(event.token_serial)
                .authentication_failures.fetch_add(1, std::memory_order_relaxed);
        }
        break;
    default:
        break;
    }
}

Result<MetricsTable*> map_shared_table() {
    void* memory = mmap(nullptr, sizeof(MetricsTable), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
        const int err = errno;
        return Error(Code::Internal,
                     "cannot map " + std::to_string(sizeof(MetricsTable)) +
                         " bytes of shared memory for the metrics: " + errno_text(err));
    }
    return new (memory) MetricsTable();
}

void unmap_shared_table(MetricsTable* table) noexcept {
    if (table != nullptr) {
        table->~MetricsTable();
        munmap(table, sizeof(MetricsTable));
    }
}

Result<MetricsTable*> process_table() {
    if (MetricsTable* table = g_process_table.load(std::memory_order_acquire)) {
        return table;
    }
    auto mapped = map_shared_table();
    if (!mapped) {
        return mapped.error();
    }
    MetricsTable* expected = nullptr;
    if (g_process_table.compare_exchange_strong(expected, mapped.value(),
                                                std::memory_order_acq_rel)) {
        return mapped.value();
    }
    unmap_shared_table(mapped.value()); // another thread was first; nobody saw ours
    return expected;
}

MetricsTable* current_process_table() noexcept {
    return g_process_table.load(std::memory_order_acquire);
}

void record_process_event(const OpEvent& event) noexcept {
    if (MetricsTable* table = current_process_table()) {
        table->record(event);
    }
}

} // namespace hsmp::obs
