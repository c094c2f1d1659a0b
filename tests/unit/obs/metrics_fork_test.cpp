// Metrics across processes: children forked after the table was mapped count into the
// same shared counters, meet new keys at the same moment without making two series of
// one key, and the parent renders the sum. This is the nginx and HAProxy shape: the
// master loads the provider (and maps the table), the workers sign.
#include "metrics_text.hpp"
#include "obs/metrics.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

using hsmp::obs::MetricsTable;
using hsmp::obs::Operation;
using hsmp::obs::OpEvent;
using hsmp::obs::Outcome;
using hsmp::test::count_lines;
using hsmp::test::sample_value;

namespace {

constexpr int kChildren = 6;
constexpr int kSharedKeys = 4;
constexpr int kRounds = 400; // per child, over the shared keys
constexpr int kOwnErrors = 10;

void record(MetricsTable& table, Operation op, const std::string& label, std::uint8_t id,
            Outcome outcome = Outcome::Ok) {
    const std::uint8_t id_bytes[] = {id};
    OpEvent e;
    e.operation = op;
    e.outcome = outcome;
    e.token_serial = "SERIAL";
    e.key_label = label;
    e.key_id = id_bytes;
    e.duration = std::chrono::microseconds(300);
    table.record(e);
}

// What each child does; returns its exit status.
int child_work(MetricsTable& table, int index) {
    // Line the children up so they meet the shared keys (new to the table) together.
    usleep(20'000);
    for (int r = 0; r < kRounds; ++r) {
        const int k = (r + index) % kSharedKeys;
        record(table, Operation::Sign, "shared-" + std::to_string(k), static_cast<std::uint8_t>(k));
    }
    for (int r = 0; r < kOwnErrors; ++r) {
        record(table, Operation::Sign, "own-" + std::to_string(index),
               static_cast<std::uint8_t>(100 + index), Outcome::Failed);
    }
    OpEvent refused;
    refused.operation = Operation::Login;
    refused.outcome = Outcome::Denied;
    refused.token_serial = "SERIAL";
    table.record(refused);
    return 0;
}

std::vector<pid_t> spawn(MetricsTable& table) {
    std::vector<pid_t> pids;
    for (int i = 0; i < kChildren; ++i) {
        const pid_t pid = fork();
        if (pid == 0) {
            _exit(child_work(table, i));
        }
        pids.push_back(pid);
    }
    return pids;
}

bool reap(const std::vector<pid_t>& pids) {
    bool all_ok = true;
    for (const pid_t pid : pids) {
        int status = 0;
        all_ok = waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
                 all_ok;
    }
    return all_ok;
}

std::string series(const std::string& label, const std::string& id, const char* result) {
    return "hsm_operations_total{operation=\"sign\",key_label=\"" + label + "\",key_id=\"" + id +
           "\",hsm_id=\"SERIAL\",result=\"" + result + "\"}";
}

void expect_children_summed(const std::string& text, std::uint64_t parent_signs) {
    for (int k = 0; k < kSharedKeys; ++k) {
        EXPECT_EQ(sample_value(
                      text, series("shared-" + std::to_string(k), "0" + std::to_string(k), "ok")),
                  static_cast<std::uint64_t>(kChildren * kRounds / kSharedKeys))
            << "shared key " << k;
    }
    for (int i = 0; i < kChildren; ++i) {
        char id[3];
        std::snprintf(id, sizeof id, "%02x", 100 + i);
        EXPECT_EQ(sample_value(text, series("own-" + std::to_string(i), id, "error")),
                  static_cast<std::uint64_t>(kOwnErrors));
    }
    // One series per key, whatever process inserted it first.
    EXPECT_EQ(count_lines(text, "hsm_operations_total{"),
              2 * (kSharedKeys + kChildren + (parent_signs > 0 ? 1 : 0)));
    EXPECT_EQ(sample_value(text, "hsm_authentication_failure_total{hsm_id=\"SERIAL\"}"),
              static_cast<std::uint64_t>(kChildren));
    EXPECT_EQ(sample_value(text, "hsm_operation_duration_seconds_count{operation=\"sign\"}"),
              static_cast<std::uint64_t>(kChildren * (kRounds + kOwnErrors)) + parent_signs);
    // 300 µs each: all in le="0.0005", none in le="0.00025".
    EXPECT_EQ(sample_value(text, "hsm_operation_duration_seconds_bucket{operation=\"sign\","
                                 "le=\"0.00025\"}"),
              0U);
    std::string report;
    EXPECT_EQ(hsmp::test::promcheck(text, report), 0) << report;
}

TEST(MetricsAcrossProcesses, ForkedChildrenCountIntoTheSharedTable) {
    auto mapped = hsmp::obs::map_shared_table();
    ASSERT_TRUE(mapped) << mapped.error().message();
    MetricsTable& table = *mapped.value();
    record(table, Operation::Sign, "parent", 0x01);

    ASSERT_TRUE(reap(spawn(table)));
    const std::string text = table.render();
    expect_children_summed(text, 1);
    EXPECT_EQ(sample_value(text, series("parent", "01", "ok")), 1U);
    EXPECT_EQ(table.dropped(), 0U);
    hsmp::obs::unmap_shared_table(&table);
}

TEST(MetricsAcrossProcesses, TheProcessTableIsInheritedByChildren) {
    // What the provider uses: mapped once (at provider init), found again in children.
    auto parent = hsmp::obs::process_table();
    ASSERT_TRUE(parent) << parent.error().message();
    EXPECT_EQ(hsmp::obs::current_process_table(), parent.value());

    const pid_t pid = fork();
    if (pid == 0) {
        auto child = hsmp::obs::process_table();
        // Same address and same pages: no new mapping in the child.
        const bool same = child && child.value() == parent.value();
        record(*child.value(), Operation::Sign, "from-child", 0x09);
        _exit(same ? 0 : 3);
    }
    ASSERT_TRUE(reap({pid}));
    const std::string text = parent.value()->render();
    EXPECT_EQ(sample_value(text, series("from-child", "09", "ok")), 1U);
}

TEST(MetricsAcrossProcesses, APrivateTableIsNotShared) {
    // The contrast that makes the tests above meaningful: ordinary memory is copied on
    // fork, so a child's counts never reach the parent.
    auto table = std::make_unique<MetricsTable>();
    const pid_t pid = fork();
    if (pid == 0) {
        record(*table, Operation::Sign, "lost", 0x01);
        _exit(0);
    }
    ASSERT_TRUE(reap({pid}));
    EXPECT_EQ(count_lines(table->render(), "hsm_operations_total{"), 0);
}

} // namespace
