// HandleCell: an object handle and its token generation, read without a lock while a
// writer swaps them (after fork, re-initialisation or device loss). A reader must never see
// the handle of one generation paired with another generation.
#include "pkcs11/object.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

using hsmp::p11::HandleCell;

namespace {

TEST(HandleCell, AnswersOnlyForItsGeneration) {
    HandleCell cell(7, 3);
    EXPECT_EQ(cell.get(3), CK_OBJECT_HANDLE{7});
    EXPECT_FALSE(cell.get(2).has_value());
    EXPECT_FALSE(cell.get(4).has_value());
    cell.set(9, 4);
    EXPECT_EQ(cell.get(4), CK_OBJECT_HANDLE{9});
    EXPECT_FALSE(cell.get(3).has_value());
}

// One writer stores pairs (handle = 1000 * generation) as fast as it can; readers ask for
// the generations around the latest. An answer is only ever the handle of the generation
// asked for. The writer keeps going until the readers have answers to check (a loaded
// host may not schedule them while it runs), within a time bound.
TEST(HandleCell, ReadersNeverSeeATornPair) {
    HandleCell cell(1000, 1);
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> latest{1};
    std::atomic<long> torn{0};
    std::atomic<long> hits{0};
    std::vector<std::thread> readers;
    for (int r = 0; r < 3; ++r) {
        readers.emplace_back([&] {
            while (!stop.load(std::memory_order_relaxed)) {
                const std::uint64_t g = latest.load(std::memory_order_relaxed);
                for (std::uint64_t ask = g > 2 ? g - 2 : 1; ask <= g + 1; ++ask) {
                    if (auto h = cell.get(ask)) {
                        hits.fetch_add(1, std::memory_order_relaxed);
                        if (*h != 1000 * ask) {
                            torn.fetch_add(1, std::memory_order_relaxed);
                        }
                    }
                }
            }
        });
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (std::uint64_t g = 2; (g < 200000 || hits.load(std::memory_order_relaxed) < 10000) &&
                              std::chrono::steady_clock::now() < deadline;
         ++g) {
        cell.set(static_cast<CK_OBJECT_HANDLE>(1000 * g), g);
        latest.store(g, std::memory_order_relaxed);
    }
    stop = true;
    for (auto& t : readers) {
        t.join();
    }
    EXPECT_EQ(torn.load(), 0);
    EXPECT_GT(hits.load(), 0);
}

} // namespace
