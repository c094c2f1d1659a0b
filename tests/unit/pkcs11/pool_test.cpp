// The session pool: bound, bounded wait, reuse, CKR_SESSION_COUNT, generations.
#include "fake_fixture.hpp"
#include "pkcs11/session_pool.hpp"

#include <gmock/gmock.h>

#include <future>
#include <thread>

using hsmp::Code;
using hsmp::p11::Module;
using hsmp::p11::ModuleSpec;
using hsmp::p11::PoolConfig;
using hsmp::p11::SessionPool;
using ::testing::HasSubstr;

namespace {

class PoolTest : public hsmp::test::FakeModuleTest {
protected:
    void SetUp() override {
        FakeModuleTest::SetUp();
        auto m = Module::load(ModuleSpec{HSMP_FAKE_SO, {}, {}});
        ASSERT_TRUE(m);
        module = std::move(m).value();
        ASSERT_TRUE(module->ensure_initialized());
    }
    std::shared_ptr<SessionPool> make_pool(std::size_t cap, CK_ULONG token_limit,
                                           std::chrono::milliseconds wait) {
        PoolConfig cfg;
        cfg.cap = cap;
        cfg.wait = wait;
        return SessionPool::create(module, cfg, token_limit, "token \"fake-token\"");
    }
    static constexpr CK_SLOT_ID kSlot = 7;
    std::shared_ptr<Module> module;
};

TEST_F(PoolTest, CapIsTheLowerOfConfigAndTokenLimit) {
    EXPECT_EQ(make_pool(8, 3, std::chrono::milliseconds(10))->cap(), 3U);
    EXPECT_EQ(make_pool(8, CK_EFFECTIVELY_INFINITE, std::chrono::milliseconds(10))->cap(), 8U);
    EXPECT_EQ(make_pool(8, CK_UNAVAILABLE_INFORMATION, std::chrono::milliseconds(10))->cap(), 8U);
    EXPECT_EQ(make_pool(2, 100, std::chrono::milliseconds(10))->cap(), 2U);
}

TEST_F(PoolTest, ReusesReleasedSessions) {
    auto pool = make_pool(4, CK_EFFECTIVELY_INFINITE, std::chrono::milliseconds(10));
    CK_SESSION_HANDLE first = CK_INVALID_HANDLE;
    {
        auto lease = pool->acquire(kSlot);
        ASSERT_TRUE(lease);
        first = lease->handle();
    }
    auto again = pool->acquire(kSlot);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->handle(), first);
    EXPECT_EQ(fake().fake_call_count("C_OpenSession"), 1U);
    EXPECT_EQ(pool->open_count(), 1U);
}

TEST_F(PoolTest, ExhaustionWaitsBoundedThenNamesTheToken) {
    auto pool = make_pool(2, CK_EFFECTIVELY_INFINITE, std::chrono::milliseconds(100));
    auto a = pool->acquire(kSlot);
    auto b = pool->acquire(kSlot);
    ASSERT_TRUE(a && b);
    const auto t0 = std::chrono::steady_clock::now();
    auto c = pool->acquire(kSlot);
    const auto waited = std::chrono::steady_clock::now() - t0;
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code(), Code::Unavailable);
    EXPECT_THAT(c.error().message(),
                HasSubstr("token \"fake-token\": no PKCS#11 session free: 2 of 2 in use"));
    EXPECT_GE(waited, std::chrono::milliseconds(95));
    EXPECT_LT(waited, std::chrono::milliseconds(2000));
    EXPECT_EQ(fake().fake_open_sessions(), 2U) << "opened past the cap";
}

TEST_F(PoolTest, WaiterGetsTheReleasedSession) {
    auto pool = make_pool(1, CK_EFFECTIVELY_INFINITE, std::chrono::milliseconds(5000));
    auto a = pool->acquire(kSlot);
    ASSERT_TRUE(a);
    const CK_SESSION_HANDLE h = a->handle();
    auto waiter = std::async(std::launch::async, [&] { return pool->acquire(kSlot); });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    a->release();
    auto got = waiter.get();
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(got->handle(), h);
}

TEST_F(PoolTest, TokenSessionCountLowersTheBound) {
    fake().fake_set_max_sessions(0); // advertises no limit...
    auto pool = make_pool(8, CK_EFFECTIVELY_INFINITE, std::chrono::milliseconds(50));
    auto a = pool->acquire(kSlot);
    ASSERT_TRUE(a);
    fake().fake_fail("C_OpenSession", CKR_SESSION_COUNT, -1); // ...but has no more
    auto b = pool->acquire(kSlot);
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error().code(), Code::Unavailable);
    EXPECT_EQ(pool->cap(), 1U);
    fake().fake_clear_faults();
}

TEST_F(PoolTest, FirstSessionFailureIsNamed) {
    auto pool = make_pool(4, CK_EFFECTIVELY_INFINITE, std::chrono::milliseconds(50));
    fake().fake_fail("C_OpenSession", CKR_TOKEN_NOT_PRESENT, 1);
    auto a = pool->acquire(kSlot);
    ASSERT_FALSE(a);
    EXPECT_THAT(a.error().message(), HasSubstr("C_OpenSession: CKR_TOKEN_NOT_PRESENT"));
    EXPECT_EQ(pool->open_count(), 0U);
    ASSERT_TRUE(pool->acquire(kSlot));
}

TEST_F(PoolTest, UnfinishedOperationIsClosedNotReused) {
    auto pool = make_pool(4, CK_EFFECTIVELY_INFINITE, std::chrono::milliseconds(10));
    {
        auto lease = pool->acquire(kSlot);
        ASSERT_TRUE(lease);
        lease->begin_operation();
    }
    EXPECT_EQ(pool->idle_count(), 0U);
    EXPECT_EQ(pool->open_count(), 0U);
    EXPECT_EQ(fake().fake_call_count("C_CloseSession"), 1U);
    EXPECT_EQ(fake().fake_open_sessions(), 0U);
}

TEST_F(PoolTest, ResetForgetsOldGeneration) {
    auto pool = make_pool(2, CK_EFFECTIVELY_INFINITE, std::chrono::milliseconds(10));
    auto old = pool->acquire(kSlot);
    ASSERT_TRUE(old);
    pool->reset(false);
    EXPECT_EQ(pool->open_count(), 0U);
    old->release(); // from the old generation: neither counted nor pooled
    EXPECT_EQ(pool->idle_count(), 0U);
    auto a = pool->acquire(kSlot);
    auto b = pool->acquire(kSlot);
    EXPECT_TRUE(a && b);
}

TEST_F(PoolTest, ConcurrentUsersNeverExceedTheCap) {
    auto pool = make_pool(3, CK_EFFECTIVELY_INFINITE, std::chrono::milliseconds(5000));
    std::atomic<int> in_use{0};
    std::atomic<int> peak{0};
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 50; ++i) {
                auto lease = pool->acquire(kSlot);
                if (!lease) {
                    ++failures;
                    continue;
                }
                const int now = ++in_use;
                int p = peak.load();
                while (now > p && !peak.compare_exchange_weak(p, now)) {
                }
                std::this_thread::sleep_for(std::chrono::microseconds(200));
                --in_use;
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    EXPECT_EQ(failures.load(), 0);
    EXPECT_LE(peak.load(), 3);
    EXPECT_LE(fake().fake_open_sessions(), 3U);
}

} // namespace
