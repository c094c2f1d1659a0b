// Fork handling against the fake module, which (like the specification demands) refuses
// every call in a child until the child calls C_Initialize, and can renumber its slots.
#include "fake_fixture.hpp"
#include "pkcs11/fork.hpp"
#include "pkcs11/operation.hpp"

#include <gmock/gmock.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

using hsmp::test::parse_uri;

namespace {

class ForkTest : public hsmp::test::FakeModuleTest {};

hsmp::Result<std::vector<std::uint8_t>> sign(hsmp::p11::Object& key) {
    std::vector<std::uint8_t> msg(32, 0x5a);
    return hsmp::p11::sign(key, {CKM_SHA256_RSA_PKCS, nullptr, 0}, msg);
}

// Runs `body` in a child and returns its exit status (0 = success). The child uses
// _exit so no parent-registered atexit handler runs twice.
template <class F> int in_child(F body) {
    const pid_t pid = fork();
    if (pid == 0) {
        int rc = 1;
        try {
            rc = body();
        } catch (...) {
            rc = 3;
        }
        _exit(rc);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST_F(ForkTest, GenerationChangesInTheChildOnly) {
    const auto parent = hsmp::p11::process_generation();
    const int rc = in_child([&] { return hsmp::p11::process_generation() != parent ? 0 : 1; });
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(hsmp::p11::process_generation(), parent);
}

TEST_F(ForkTest, ChildReinitialisesReLogsInAndRefindsHandles) {
    fake().fake_renumber_slots_on_init(1);
    auto lib = make_library();
    auto key = lib->find_private_key(parse_uri("pkcs11:token=fake-token;object=rsa"));
    ASSERT_TRUE(key) << key.error().message();
    ASSERT_TRUE(sign(*key.value()));
    const CK_SLOT_ID parent_slot = key.value()->token()->slot_id();

    const int rc = in_child([&] {
        // Same Object the parent loaded (what an SSL_CTX holds across nginx's fork).
        auto sig = sign(*key.value());
        if (!sig) {
            fprintf(stderr, "child: %s\n", sig.error().message().c_str());
            return 10;
        }
        if (key.value()->token()->slot_id() == parent_slot) {
            return 11; // the slot id must have been re-discovered
        }
        if (fake().fake_call_count("C_Login") < 2) {
            return 12; // logged in again with the cached PIN
        }
        return 0;
    });
    EXPECT_EQ(rc, 0);
    // The parent is untouched by the child's re-initialisation.
    auto sig = sign(*key.value());
    ASSERT_TRUE(sig) << sig.error().message();
    EXPECT_EQ(key.value()->token()->slot_id(), parent_slot);
}

TEST_F(ForkTest, ForkWhileOtherThreadsUseThePoolLeavesNoLockHeldInTheChild) {
    auto lib = make_library();
    auto key = lib->find_private_key(parse_uri("pkcs11:token=fake-token;object=rsa"));
    ASSERT_TRUE(key);
    auto& token = *key.value()->token();
    {
        // Three idle sessions, so the busy threads below only take pool and token locks
        // (a thread inside the module during fork would leave the module's own lock held,
        // which no provider can repair).
        auto a = token.session();
        auto b = token.session();
        auto c = token.session();
        ASSERT_TRUE(a && b && c);
    }
    std::atomic<bool> stop{false};
    std::vector<std::thread> busy;
    for (int i = 0; i < 3; ++i) {
        busy.emplace_back([&] {
            while (!stop) {
                auto lease = token.session();
                (void)lease;
            }
        });
    }
    int failures = 0;
    for (int round = 0; round < 20; ++round) {
        failures += in_child([&] { return sign(*key.value()) ? 0 : 1; }) != 0 ? 1 : 0;
    }
    stop = true;
    for (auto& t : busy) {
        t.join();
    }
    EXPECT_EQ(failures, 0);
}

TEST_F(ForkTest, TransientSlotErrorsAfterForkAreRetried) {
    auto lib = make_library();
    auto key = lib->find_private_key(parse_uri("pkcs11:token=fake-token;object=rsa"));
    ASSERT_TRUE(key);
    const int rc = in_child([&] {
        // Right after re-initialisation the token is briefly not there (SoftHSM race).
        fake().fake_fail("C_GetSlotList", CKR_SLOT_ID_INVALID, 2);
        return sign(*key.value()) ? 0 : 1;
    });
    EXPECT_EQ(rc, 0);
}

} // namespace
