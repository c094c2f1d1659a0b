// MetricsTable::render: the Prometheus text exposition format 0.0.4, written so that
// `promtool check metrics` accepts it: one HELP and one TYPE line per family before its
// samples, counters named *_total, label values escaped (backslash, double quote, line
// feed) and valid UTF-8, histogram buckets cumulative with le="+Inf" equal to _count.
#include "obs/metrics.hpp"

#include <algorithm>
#include <charconv>

namespace hsmp::obs {

namespace {

using detail::KeySlot;
using detail::StoredText;

constexpr std::uint64_t kReadyBit = 2;

bool ready(const std::atomic<std::uint64_t>& state) noexcept {
    return (state.load(std::memory_order_acquire) & 3) == kReadyBit;
}

std::uint64_t load(const detail::Counter& c) noexcept {
    return c.load(std::memory_order_relaxed);
}

void append_number(std::string& out, std::uint64_t v) {
    char buf[24];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, end);
}

void append_hex(std::string& out, const std::uint8_t* bytes, std::size_t size) {
    static constexpr char kDigits[] = "0123456789abcdef";
    for (std::size_t i = 0; i < size; ++i) {
        out += kDigits[bytes[i] >> 4];
        out += kDigits[bytes[i] & 0x0f];
    }
}

// Length of the valid UTF-8 sequence at the start of `s`, or 0 when it is not one
// (overlong forms, surrogates and values past U+10FFFF are not).
std::size_t utf8_sequence(std::string_view s) noexcept {
    const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const auto cont = [&](std::size_t i, unsigned char lo = 0x80, unsigned char hi = 0xbf) {
        return i < s.size() && b(i) >= lo && b(i) <= hi;
    };
    const unsigned char c = b(0);
    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        return cont(1) ? 2 : 0;
    }
    if (c >= 0xe0 && c <= 0xef) {
        const unsigned char lo = c == 0xe0 ? 0xa0 : 0x80;
        const unsigned char hi = c == 0xed ? 0x9f : 0xbf;
        return cont(1, lo, hi) && cont(2) ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        const unsigned char lo = c == 0xf0 ? 0x90 : 0x80;
        const unsigned char hi = c == 0xf4 ? 0x8f : 0xbf;
        return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
    }
    return 0;
}

// A clipped value may end inside a multi-byte character: drop that partial character.
std::string_view without_partial_tail(std::string_view s) noexcept {
    std::size_t start = s.size();
    for (int back = 0; back < 4 && start > 0; ++back) {
        --start;
        const auto c = static_cast<unsigned char>(s[start]);
        if ((c & 0xc0) != 0x80) {
            return utf8_sequence(s.substr(start)) == 0 ? s.substr(0, start) : s;
        }
    }
    return s;
}

// Appends `v` as the inside of a quoted label value. Bytes that are not UTF-8 become
// U+FFFD. Returns false when something was replaced, so the caller can keep two different
// values from rendering the same.
bool append_label_value(std::string& out, std::string_view v) {
    bool exact = true;
    while (!v.empty()) {
        const std::size_t n = utf8_sequence(v);
        if (n == 0) {
            out += "\xef\xbf\xbd";
            exact = false;
            v.remove_prefix(1);
            continue;
        }
        if (n == 1) {
            switch (v[0]) {
            case '\\':
                out += "\\\\";
                break;
            case '"':
                out += "\\\"";
                break;
            case '\n':
                out += "\\n";
                break;
            default:
                out += v[0];
                break;
            }
        } else {
            out.append(v.data(), n);
        }
        v.remove_prefix(n);
    }
    return exact;
}

// "~" and the hash of the whole value: marks a value that was cut or had bytes replaced,
// and keeps it distinct from every other value that was cut or replaced the same way.
void append_suffix(std::string& out, std::uint32_t hash) {
    static constexpr char kDigits[] = "0123456789abcdef";
    out += '~';
    for (int shift = 28; shift >= 0; shift -= 4) {
        out += kDigits[(hash >> shift) & 0x0f];
    }
}

// The stored size, never past the slot: every process that shares the table can write it,
// and a reader must not trust it further than the array it describes.
template <std::size_t N> std::size_t stored_size(const StoredText<N>& t) noexcept {
    return std::min<std::size_t>(t.size, N);
}

template <std::size_t N> void append_text(std::string& out, const StoredText<N>& t) {
    std::string_view v(t.bytes.data(), stored_size(t));
    if (t.clipped != 0) {
        v = without_partial_tail(v);
    }
    const bool exact = append_label_value(out, v);
    if (t.clipped != 0 || !exact) {
        append_suffix(out, t.hash);
    }
}

// key_label="...",key_id="...",hsm_id="..." of a slot (the overflow series: all empty).
std::string key_labels(const KeySlot& slot, bool overflow) {
    std::string out = "key_label=\"";
    if (!overflow) {
        append_text(out, slot.label);
    }
    out += "\",key_id=\"";
    if (!overflow) {
        append_hex(out, reinterpret_cast<const std::uint8_t*>(slot.id.bytes.data()),
                   stored_size(slot.id));
        if (slot.id.clipped != 0) {
            append_suffix(out, slot.id.hash);
        }
    }
    out += "\",hsm_id=\"";
    if (!overflow) {
        append_text(out, slot.serial);
    }
    out += '"';
    return out;
}

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void sample(std::string& out, std::string_view name, std::string_view labels, std::uint64_t value) {
    out.append(name);
    if (!labels.empty()) {
        out.append("{").append(labels).append("}");
    }
    out += ' ';
    append_number(out, value);
    out += '\n';
}

constexpr std::array<std::string_view, detail::kResultCount> kResultNames{"ok", "error"};

// Operations whose histogram is shown before anything was measured: the ones the
// provider performs today. Decrypt and derive appear once they happen.
constexpr std::array<bool, kKeyOperationCount> kShownWhenEmpty{true, false, false};

} // namespace

void MetricsTable::render_operations(std::string& out) const {
    family(out, "hsm_operations_total", "counter",
           "Private-key operations made in the token, by operation, key and result, summed "
           "over every process sharing the provider.");
    const auto one = [&](const KeySlot& slot, bool overflow) {
        std::string keys;
        for (std::size_t op = 0; op < kKeyOperationCount; ++op) {
            const auto& counters = slot.operations[op];
            const std::uint64_t ok = load(counters[detail::kOk]);
            const std::uint64_t error = load(counters[detail::kError]);
            if (ok == 0 && error == 0) {
                continue;
            }
            if (keys.empty()) {
                keys = key_labels(slot, overflow);
            }
            const std::uint64_t values[] = {ok, error};
            for (std::size_t r = 0; r < detail::kResultCount; ++r) {
                std::string labels = "operation=\"";
                labels.append(operation_name(static_cast<Operation>(op))).append("\",");
                labels.append(keys).append(",result=\"").append(kResultNames[r]).append("\"");
                sample(out, "hsm_operations_total", labels, values[r]);
            }
        }
    };
    for (const KeySlot& slot : m_keys) {
        if (ready(slot.state)) {
            one(slot, false);
        }
    }
    one(m_key_overflow, true);
}

void MetricsTable::render_durations(std::string& out) const {
    family(out, "hsm_operation_duration_seconds", "histogram",
           "Time of a private-key operation in the provider, from taking a session to the "
           "result, including a recovery retry.");
    for (std::size_t op = 0; op < kKeyOperationCount; ++op) {
        const detail::Histogram& h = m_durations[op];
        std::array<std::uint64_t, kDurationBuckets.size() + 1> counts{};
        std::uint64_t total = 0;
        for (std::size_t b = 0; b < counts.size(); ++b) {
            counts[b] = load(h.buckets[b]);
            total += counts[b];
        }
        if (total == 0 && !kShownWhenEmpty[op]) {
            continue;
        }
        const std::string op_label =
            "operation=\"" + std::string(operation_name(static_cast<Operation>(op))) + "\"";
        std::uint64_t cumulative = 0;
        for (std::size_t b = 0; b < counts.size(); ++b) {
            cumulative += counts[b];
            const std::string_view le =
                b < kDurationBuckets.size() ? kDurationBuckets[b].le : std::string_view("+Inf");
            sample(out, "hsm_operation_duration_seconds_bucket",
                   op_label + ",le=\"" + std::string(le) + "\"", cumulative);
        }
        // Exact decimal seconds from integer nanoseconds: no floating-point rounding.
        const std::uint64_t ns = load(h.sum_ns);
        std::string sum = "hsm_operation_duration_seconds_sum{" + op_label + "} ";
        append_number(sum, ns / 1'000'000'000U);
        std::string frac = std::to_string(ns % 1'000'000'000U);
        sum.append(".").append(9 - frac.size(), '0').append(frac).append("\n");
        out += sum;
        sample(out, "hsm_operation_duration_seconds_count", op_label, total);
    }
}

void MetricsTable::render_loads(std::string& out) const {
    family(out, "hsm_key_loads_total", "counter",
           "Token private keys loaded as provider keys (store, key-reference PEM), by key "
           "and result.");
    const auto one = [&](const KeySlot& slot, bool overflow) {
        const std::uint64_t values[] = {load(slot.loads[detail::kOk]),
                                        load(slot.loads[detail::kError])};
        if (values[0] == 0 && values[1] == 0) {
            return;
        }
        const std::string keys = key_labels(slot, overflow);
        for (std::size_t r = 0; r < detail::kResultCount; ++r) {
            sample(out, "hsm_key_loads_total",
                   keys + ",result=\"" + std::string(kResultNames[r]) + "\"", values[r]);
        }
    };
    for (const KeySlot& slot : m_keys) {
        if (ready(slot.state)) {
            one(slot, false);
        }
    }
    one(m_key_overflow, true);
}

void MetricsTable::render_authentication(std::string& out) const {
    family(out, "hsm_authentication_failure_total", "counter",
           "User logins refused: wrong, locked or missing PIN, or withheld by the provider's "
           "anti-lockout rules; by token serial.");
    for (const detail::TokenSlot& slot : m_tokens) {
        if (ready(slot.state)) {
            std::string labels = "hsm_id=\"";
            append_text(labels, slot.serial);
            labels += '"';
            sample(out, "hsm_authentication_failure_total", labels,
                   load(slot.authentication_failures));
        }
    }
    if (const std::uint64_t n = load(m_token_overflow.authentication_failures); n != 0) {
        sample(out, "hsm_authentication_failure_total", "hsm_id=\"\"", n);
    }
}

std::string MetricsTable::render() const {
    std::string out;
    out.reserve(4096);
    render_operations(out);
    render_durations(out);
    render_loads(out);
    render_authentication(out);
    family(out, "hsm_metrics_dropped_total", "counter",
           "Events counted in the overflow series (empty key_label, key_id and hsm_id) "
           "because the table of " +
               std::to_string(kKeyCapacity) + " keys or " + std::to_string(kTokenCapacity) +
               " tokens was full.");
    sample(out, "hsm_metrics_dropped_total", "", dropped());
    return out;
}

} // namespace hsmp::obs
