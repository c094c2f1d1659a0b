// The fork test of the foundation issue, against a real token: a parent loads a key, forks
// 8 children that each re-initialise the module and sign; all 8 must succeed, 20 times over.
// SoftHSM2 2.6.1 races when several processes re-initialise at once; the layer's bounded
// retry must absorb it (DESIGN.md section 3).
#include "fixture_env.hpp"
#include "ossl_verify.hpp"
#include "pkcs11/library.hpp"
#include "pkcs11/operation.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

TEST(RealForkTest, EightChildrenSignAfterForkTwentyTimes) {
    auto env = hsmp::test::FixtureEnv::load();
    ASSERT_TRUE(env) << "HSMP_FIXTURE_ENV is not set: run through ctest";
    hsmp::p11::LibraryConfig config;
    config.module.path = env->module();
    config.module.init_args = env->init_args();
    config.token_pin = hsmp::p11::config_pin("file:" + env->pin_file()).value();
    hsmp::p11::Library lib(std::move(config));

    hsmp::uri::Uri uri;
    uri.token = env->token_label();
    uri.object = "rsa2048";
    auto parsed = hsmp::uri::parse(hsmp::uri::format(uri));
    ASSERT_TRUE(parsed);
    auto key = lib.find_private_key(*parsed.uri);
    ASSERT_TRUE(key) << key.error().message();
    const std::vector<std::uint8_t> msg(64, 0x17);
    auto parent_sig = hsmp::p11::sign(*key.value(), {CKM_SHA256_RSA_PKCS, nullptr, 0}, msg);
    ASSERT_TRUE(parent_sig) << parent_sig.error().message();

    constexpr int kRounds = 20;
    constexpr int kChildren = 8;
    int failed = 0;
    for (int round = 0; round < kRounds; ++round) {
        std::vector<pid_t> pids;
        for (int c = 0; c < kChildren; ++c) {
            const pid_t pid = fork();
            if (pid == 0) {
                auto sig = hsmp::p11::sign(*key.value(), {CKM_SHA256_RSA_PKCS, nullptr, 0}, msg);
                if (!sig) {
                    fprintf(stderr, "round %d child %d: %s\n", round, c,
                            sig.error().message().c_str());
                    _exit(1);
                }
                // Deterministic PKCS#1 v1.5: the child's signature equals the parent's.
                _exit(sig.value() == parent_sig.value() ? 0 : 2);
            }
            ASSERT_GT(pid, 0);
            pids.push_back(pid);
        }
        for (const pid_t pid : pids) {
            int status = 0;
            waitpid(pid, &status, 0);
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                ++failed;
            }
        }
    }
    EXPECT_EQ(failed, 0) << failed << " of " << kRounds * kChildren << " children failed";
    // The parent still works after all of it.
    ASSERT_TRUE(hsmp::p11::sign(*key.value(), {CKM_SHA256_RSA_PKCS, nullptr, 0}, msg));
}

} // namespace
