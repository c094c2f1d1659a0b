// MetricsTable in one process: what each event counts, the exact text it renders
// (escaping, clipping, histogram buckets), the overflow series, and threads that meet a
// new key at the same moment.
#include "metrics_text.hpp"
#include "obs/metrics.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using hsmp::obs::MetricsTable;
using hsmp::obs::Operation;
using hsmp::obs::OpEvent;
using hsmp::obs::Outcome;
using hsmp::test::count_lines;
using hsmp::test::sample_value;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

using Bytes = std::vector<std::uint8_t>;
using namespace std::chrono_literals;

OpEvent key_event(Operation op, const std::string& serial, const std::string& label,
                  const Bytes& id, Outcome outcome = Outcome::Ok,
                  std::chrono::nanoseconds duration = 1ms) {
    OpEvent e;
    e.operation = op;
    e.outcome = outcome;
    e.token_serial = serial;
    e.key_label = label;
    e.key_id = id;
    e.duration = duration;
    return e;
}

OpEvent login(const std::string& serial, Outcome outcome) {
    OpEvent e;
    e.operation = Operation::Login;
    e.outcome = outcome;
    e.token_serial = serial;
    return e;
}

std::string ops(const std::string& labels, const std::string& result,
                const std::string& op = "sign") {
    return "hsm_operations_total{operation=\"" + op + "\"," + labels + ",result=\"" + result +
           "\"}";
}

std::string keys(const std::string& label, const std::string& id, const std::string& serial) {
    return "key_label=\"" + label + "\",key_id=\"" + id + "\",hsm_id=\"" + serial + "\"";
}

class Metrics : public ::testing::Test {
protected:
    std::unique_ptr<MetricsTable> table = std::make_unique<MetricsTable>();

    std::string rendered_and_checked() {
        std::string text = table->render();
        std::string report;
        EXPECT_EQ(hsmp::test::promcheck(text, report), 0) << report << "\n" << text;
        return text;
    }
};

TEST_F(Metrics, EmptyTableDeclaresEveryFamilyAndIsValid) {
    const std::string text = rendered_and_checked();
    for (const char* family :
         {"hsm_operations_total counter", "hsm_operation_duration_seconds histogram",
          "hsm_key_loads_total counter", "hsm_authentication_failure_total counter",
          "hsm_metrics_dropped_total counter"}) {
        EXPECT_THAT(text, HasSubstr(std::string("# TYPE ") + family + "\n"));
    }
    EXPECT_EQ(sample_value(text, "hsm_metrics_dropped_total"), 0U);
    // The sign histogram is there from the start (the provider signs today), at zero.
    EXPECT_EQ(sample_value(text, "hsm_operation_duration_seconds_bucket{operation=\"sign\","
                                 "le=\"+Inf\"}"),
              0U);
    EXPECT_THAT(text, HasSubstr("hsm_operation_duration_seconds_sum{operation=\"sign\"} "
                                "0.000000000\n"));
    EXPECT_THAT(text, Not(HasSubstr("operation=\"decrypt\"")));
    EXPECT_EQ(count_lines(text, "hsm_operations_total{"), 0);
}

TEST_F(Metrics, CountsKeyOperationsPerKeyOperationAndResult) {
    const Bytes id_a{0x01, 0xab};
    const Bytes id_b{0x02};
    for (int i = 0; i < 3; ++i) {
        table->record(key_event(Operation::Sign, "SER-A", "web", id_a));
    }
    table->record(key_event(Operation::Sign, "SER-A", "web", id_a, Outcome::Failed));
    table->record(key_event(Operation::Sign, "SER-A", "web", id_a, Outcome::Denied));
    table->record(key_event(Operation::Sign, "SER-B", "web", id_b));
    table->record(key_event(Operation::Decrypt, "SER-B", "web", id_b, Outcome::Failed));

    const std::string text = rendered_and_checked();
    const std::string a = keys("web", "01ab", "SER-A");
    const std::string b = keys("web", "02", "SER-B");
    EXPECT_EQ(sample_value(text, ops(a, "ok")), 3U);
    EXPECT_EQ(sample_value(text, ops(a, "error")), 2U); // Failed and Denied are both errors
    EXPECT_EQ(sample_value(text, ops(b, "ok")), 1U);
    EXPECT_EQ(sample_value(text, ops(b, "error")), 0U);
    EXPECT_EQ(sample_value(text, ops(b, "ok", "decrypt")), 0U);
    EXPECT_EQ(sample_value(text, ops(b, "error", "decrypt")), 1U);
    // Key A never decrypted: no decrypt series for it.
    EXPECT_EQ(sample_value(text, ops(a, "ok", "decrypt")), std::nullopt);
    EXPECT_EQ(count_lines(text, "hsm_operations_total{"), 6);
    EXPECT_EQ(sample_value(text, "hsm_operation_duration_seconds_count{operation=\"sign\"}"), 6U);
    EXPECT_EQ(sample_value(text, "hsm_operation_duration_seconds_count{operation=\"decrypt\"}"),
              1U);
    EXPECT_EQ(table->dropped(), 0U);
}

TEST_F(Metrics, HistogramBucketsAreCumulativeAndTheSumIsExact) {
    const Bytes id{0x07};
    // le is inclusive: 100 µs falls in le="0.0001", 100 µs + 1 ns in the next one.
    for (const auto d : {std::chrono::nanoseconds(50us), std::chrono::nanoseconds(100us),
                         100us + 1ns, std::chrono::nanoseconds(2ms), std::chrono::nanoseconds(2s),
                         std::chrono::nanoseconds(-5)}) {
        table->record(key_event(Operation::Sign, "S", "k", id, Outcome::Ok, d));
    }
    const std::string text = rendered_and_checked();
    const auto bucket = [&](const char* le) {
        return sample_value(text, std::string("hsm_operation_duration_seconds_bucket{operation="
                                              "\"sign\",le=\"") +
                                      le + "\"}");
    };
    // A negative duration (a clock step) counts as 0.
    EXPECT_EQ(bucket("0.0001"), 3U);
    EXPECT_EQ(bucket("0.00025"), 4U);
    EXPECT_EQ(bucket("0.001"), 4U);
    EXPECT_EQ(bucket("0.0025"), 5U);
    EXPECT_EQ(bucket("0.5"), 5U);
    EXPECT_EQ(bucket("1"), 5U);
    EXPECT_EQ(bucket("+Inf"), 6U);
    EXPECT_EQ(sample_value(text, "hsm_operation_duration_seconds_count{operation=\"sign\"}"), 6U);
    // 50000 + 100000 + 100001 + 2000000 + 2000000000 + 0 ns
    EXPECT_THAT(text, HasSubstr("hsm_operation_duration_seconds_sum{operation=\"sign\"} "
                                "2.002250001\n"));
    // Buckets appear in increasing order, +Inf last.
    const auto first = text.find("le=\"0.0001\"");
    const auto last = text.find("le=\"+Inf\"");
    EXPECT_LT(first, text.find("le=\"0.00025\""));
    EXPECT_LT(text.find("le=\"1\""), last);
}

TEST_F(Metrics, LabelValuesFromTheTokenAreEscaped) {
    // CKA_LABEL and the serial come from the token: anything may be in them.
    const Bytes id{0x00, 0xff};
    table->record(key_event(Operation::Sign, "s\"n", "a\\b\"c\nd}", id));
    const std::string text = rendered_and_checked();
    EXPECT_EQ(sample_value(text, ops(keys("a\\\\b\\\"c\\nd}", "00ff", "s\\\"n"), "ok")), 1U);
}

TEST_F(Metrics, BytesThatAreNotUtf8AreReplacedAndKeptApart) {
    const Bytes id{0x01};
    table->record(key_event(Operation::Sign, "S", "\xff", id));
    table->record(key_event(Operation::Sign, "S", "\xfe", id));
    table->record(key_event(Operation::Sign, "S", "caf\xc3\xa9", id)); // valid: kept as is
    const std::string text = rendered_and_checked();
    EXPECT_EQ(sample_value(text, ops(keys("caf\xc3\xa9", "01", "S"), "ok")), 1U);
    // Both become U+FFFD, each followed by its own hash so the two series stay distinct
    // (the checker above rejects duplicate series).
    EXPECT_EQ(
        count_lines(text, "hsm_operations_total{operation=\"sign\",key_label=\"\xef\xbf\xbd~"), 4);
}

TEST_F(Metrics, LongLabelsAndIdsAreClippedButStayDistinct) {
    // 127 ASCII bytes then "é" (2 bytes) crossing the 128-byte limit, then more.
    const std::string common = std::string(127, 'x') + "\xc3\xa9" + std::string(40, 'y');
    const std::string one = common + "1";
    const std::string two = common + "2";
    const Bytes long_id(80, 0x5a);
    table->record(key_event(Operation::Sign, "S", one, {0x01}));
    table->record(key_event(Operation::Sign, "S", two, {0x01}));
    table->record(key_event(Operation::Sign, "S", two, {0x01})); // same key as before
    table->record(key_event(Operation::Sign, "S", "short", long_id));
    const std::string text = rendered_and_checked();

    // The partial "é" is dropped, then "~" and eight hex digits of the whole value's hash.
    const std::string clipped = "key_label=\"" + std::string(127, 'x') + "~";
    EXPECT_EQ(count_lines(text, "hsm_operations_total{operation=\"sign\"," + clipped), 4);
    std::vector<std::uint64_t> ok_values;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("hsm_operations_total{operation=\"sign\"," + clipped, 0) == 0 &&
            line.find("result=\"ok\"") != std::string::npos) {
            ok_values.push_back(std::stoull(line.substr(line.rfind(' ') + 1)));
        }
    }
    EXPECT_THAT(ok_values, ::testing::UnorderedElementsAre(1U, 2U));
    // 64 bytes of the id in hex, then its marker.
    std::string hex;
    for (int i = 0; i < 64; ++i) {
        hex += "5a";
    }
    EXPECT_THAT(text, HasSubstr("key_id=\"" + hex + "~"));
}

TEST_F(Metrics, KeyLoadsAndRefusedLoginsAreCounted) {
    const Bytes id{0x04};
    table->record(key_event(Operation::KeyLoad, "S", "tls", id));
    table->record(key_event(Operation::KeyLoad, "S", "tls", id));
    table->record(key_event(Operation::KeyLoad, "S", "tls", id, Outcome::Failed));
    table->record(login("S", Outcome::Denied));
    table->record(login("S", Outcome::Denied));
    table->record(login("S", Outcome::Failed)); // token gone: not an authentication failure
    table->record(login("S", Outcome::Ok));
    table->record(login("T", Outcome::Ok)); // no failure: no series
    const std::string text = rendered_and_checked();
    EXPECT_EQ(
        sample_value(text, "hsm_key_loads_total{" + keys("tls", "04", "S") + ",result=\"ok\"}"),
        2U);
    EXPECT_EQ(
        sample_value(text, "hsm_key_loads_total{" + keys("tls", "04", "S") + ",result=\"error\"}"),
        1U);
    EXPECT_EQ(sample_value(text, "hsm_authentication_failure_total{hsm_id=\"S\"}"), 2U);
    EXPECT_EQ(count_lines(text, "hsm_authentication_failure_total{"), 1);
    // Loads are not operations: no hsm_operations_total series, no histogram count.
    EXPECT_EQ(count_lines(text, "hsm_operations_total{"), 0);
    EXPECT_EQ(sample_value(text, "hsm_operation_duration_seconds_count{operation=\"sign\"}"), 0U);
}

TEST_F(Metrics, AFullKeyTableCountsIntoTheOverflowSeriesAndTheDrops) {
    for (std::size_t i = 0; i < MetricsTable::kKeyCapacity; ++i) {
        table->record(key_event(Operation::Sign, "S", "key-" + std::to_string(i), {0x01}));
    }
    EXPECT_EQ(table->dropped(), 0U);
    table->record(key_event(Operation::Sign, "S", "one-too-many", {0x01}));
    table->record(key_event(Operation::Sign, "S", "two-too-many", {0x01}, Outcome::Failed));
    table->record(key_event(Operation::KeyLoad, "S", "three-too-many", {0x01}));
    table->record(key_event(Operation::Sign, "S", "key-7", {0x01})); // known: its own series
    EXPECT_EQ(table->dropped(), 3U);

    const std::string text = rendered_and_checked();
    const std::string overflow = keys("", "", "");
    EXPECT_EQ(sample_value(text, ops(overflow, "ok")), 1U);
    EXPECT_EQ(sample_value(text, ops(overflow, "error")), 1U);
    EXPECT_EQ(sample_value(text, "hsm_key_loads_total{" + overflow + ",result=\"ok\"}"), 1U);
    EXPECT_EQ(sample_value(text, ops(keys("key-7", "01", "S"), "ok")), 2U);
    EXPECT_EQ(sample_value(text, "hsm_metrics_dropped_total"), 3U);
    EXPECT_EQ(count_lines(text, "hsm_operations_total{"), 2 * (256 + 1));
    EXPECT_THAT(text, Not(HasSubstr("one-too-many")));
}

TEST_F(Metrics, AFullTokenTableCountsIntoTheOverflowSeries) {
    for (std::size_t i = 0; i < MetricsTable::kTokenCapacity; ++i) {
        table->record(login("T" + std::to_string(i), Outcome::Denied));
    }
    table->record(login("late", Outcome::Denied));
    const std::string text = rendered_and_checked();
    EXPECT_EQ(sample_value(text, "hsm_authentication_failure_total{hsm_id=\"\"}"), 1U);
    EXPECT_EQ(sample_value(text, "hsm_authentication_failure_total{hsm_id=\"T63\"}"), 1U);
    EXPECT_EQ(table->dropped(), 1U);
}

TEST_F(Metrics, AKeyWithNoIdentityIsCountedWithTheOverflowWithoutADrop) {
    // Empty serial, label and id would render exactly like the overflow series.
    table->record(key_event(Operation::Sign, "", "", {}));
    const std::string text = rendered_and_checked();
    EXPECT_EQ(sample_value(text, ops(keys("", "", ""), "ok")), 1U);
    EXPECT_EQ(table->dropped(), 0U);
}

TEST_F(Metrics, ThreadsMeetingNewKeysAgreeOnOneSeriesEach) {
    constexpr int kThreads = 8;
    constexpr int kRounds = 2000;
    constexpr int kKeys = 16;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int r = 0; r < kRounds; ++r) {
                const int k = (r + t) % kKeys;
                const std::string label = "k" + std::to_string(k);
                table->record(
                    key_event(Operation::Sign, "S", label, {static_cast<std::uint8_t>(k)}));
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    const std::string text = rendered_and_checked();
    EXPECT_EQ(count_lines(text, "hsm_operations_total{"), 2 * kKeys);
    char id[3];
    for (int k = 0; k < kKeys; ++k) {
        std::snprintf(id, sizeof id, "%02x", k);
        EXPECT_EQ(sample_value(text, ops(keys("k" + std::to_string(k), id, "S"), "ok")),
                  static_cast<std::uint64_t>(kThreads * kRounds / kKeys))
            << "key " << k;
    }
    EXPECT_EQ(table->dropped(), 0U);
}

} // namespace
