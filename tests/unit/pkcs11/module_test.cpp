// Module loading: paths, entry points, init args, p11-kit names, error messages.
#include "fake_fixture.hpp"
#include "pkcs11/module.hpp"
#include "temp_path.hpp"

#include <gmock/gmock.h>

#include <fstream>

using hsmp::Code;
using hsmp::p11::Module;
using hsmp::p11::ModuleSpec;
using ::testing::HasSubstr;

namespace {

class ModuleTest : public hsmp::test::FakeModuleTest {};

TEST_F(ModuleTest, LoadsThroughCGetInterfaceWhenExported) {
    auto m = Module::load(ModuleSpec{HSMP_FAKE_SO, {}, {}});
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_TRUE(m.value()->uses_interface());
    ASSERT_TRUE(m.value()->ensure_initialized());
    EXPECT_EQ(fake().fake_initialized(), 1);
    EXPECT_EQ(fake().fake_call_count("C_Initialize"), 1U);
}

TEST_F(ModuleTest, FallsBackToCGetFunctionList) {
    FakeControl v2(HSMP_FAKE_V2_SO);
    v2.fake_reset();
    auto m = Module::load(ModuleSpec{HSMP_FAKE_V2_SO, {}, {}});
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_FALSE(m.value()->uses_interface());
    ASSERT_TRUE(m.value()->ensure_initialized());
    EXPECT_EQ(v2.fake_initialized(), 1);
    v2.fake_reset();
}

TEST_F(ModuleTest, MissingPathIsNamed) {
    auto m = Module::load(ModuleSpec{"/nonexistent/libnothing.so", {}, {}});
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code(), Code::NotFound);
    EXPECT_THAT(m.error().message(), HasSubstr("\"/nonexistent/libnothing.so\""));
    EXPECT_THAT(m.error().message(), HasSubstr("No such file or directory"));
}

TEST_F(ModuleTest, NonSharedObjectGetsDlerrorText) {
    const std::string path = hsmp::test::private_temp_path("not-elf.so");
    std::ofstream out(path);
    for (int i = 0; i < 64; ++i) {
        out << "this is not an ELF file\n"; // long enough to get past the size check
    }
    out.close();
    auto m = Module::load(ModuleSpec{path, {}, {}});
    ASSERT_FALSE(m);
    EXPECT_THAT(m.error().message(), HasSubstr("cannot load PKCS#11 module \"" + path + "\""));
    // dlerror() names the reason.
    EXPECT_THAT(m.error().message(), HasSubstr("invalid ELF header"));
}

TEST_F(ModuleTest, SharedObjectWithoutEntryPointIsRejected) {
    auto m = Module::load(ModuleSpec{HSMP_NOT_A_MODULE_SO, {}, {}});
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code(), Code::InvalidArgument);
    EXPECT_THAT(m.error().message(),
                HasSubstr(std::string("\"") + HSMP_NOT_A_MODULE_SO + "\" is not a PKCS#11 module"));
    EXPECT_THAT(m.error().message(), HasSubstr("C_GetFunctionList"));
}

TEST_F(ModuleTest, DirectoryIsRejected) {
    auto m = Module::load(ModuleSpec{"/tmp", {}, {}});
    ASSERT_FALSE(m);
    EXPECT_THAT(m.error().message(), HasSubstr("not a regular file"));
}

TEST_F(ModuleTest, InitArgsReachCInitialize) {
    auto m = Module::load(ModuleSpec{HSMP_FAKE_SO, {}, "configDir='sql:/tmp/x'"});
    ASSERT_TRUE(m);
    ASSERT_TRUE(m.value()->ensure_initialized());
    EXPECT_STREQ(fake().fake_init_args(), "configDir='sql:/tmp/x'");
}

TEST_F(ModuleTest, InitializeFailureNamesFunctionAndReturnCode) {
    fake().fake_fail("C_Initialize", CKR_DEVICE_ERROR, 1);
    auto m = Module::load(ModuleSpec{HSMP_FAKE_SO, {}, {}});
    ASSERT_TRUE(m);
    auto init = m.value()->ensure_initialized();
    ASSERT_FALSE(init);
    EXPECT_EQ(init.error().function(), "C_Initialize");
    EXPECT_EQ(init.error().rv_name(), "CKR_DEVICE_ERROR");
    EXPECT_THAT(init.error().message(), HasSubstr("C_Initialize: CKR_DEVICE_ERROR"));
    // Not stuck: the next call initialises.
    ASSERT_TRUE(m.value()->ensure_initialized());
}

TEST_F(ModuleTest, InitializesOncePerProcess) {
    auto m = Module::load(ModuleSpec{HSMP_FAKE_SO, {}, {}});
    ASSERT_TRUE(m);
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(m.value()->ensure_initialized());
    }
    EXPECT_EQ(fake().fake_call_count("C_Initialize"), 1U);
}

TEST_F(ModuleTest, P11KitRegistryNameResolvesToItsModule) {
    // softhsm2 registers itself with p11-kit (/usr/share/p11-kit/modules/softhsm2.module).
    auto path = hsmp::p11::p11kit_module_path("softhsm2");
    ASSERT_TRUE(path) << path.error().message();
    EXPECT_THAT(path.value(), HasSubstr("libsofthsm2.so"));
}

TEST_F(ModuleTest, UnknownP11KitNameListsRegisteredModules) {
    auto m = Module::load(ModuleSpec{{}, "no-such-module", {}});
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code(), Code::NotFound);
    EXPECT_THAT(m.error().message(), HasSubstr("module-name \"no-such-module\""));
    EXPECT_THAT(m.error().message(), HasSubstr("softhsm2"));
}

TEST_F(ModuleTest, NoModuleMeansTheP11KitProxy) {
    auto m = Module::load(ModuleSpec{});
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ(m.value()->path(), hsmp::p11::p11kit_proxy_path());
}

TEST_F(ModuleTest, CallsAreReportedToTheObserver) {
    static std::atomic<int> calls{0};
    static std::atomic<unsigned long> last_rv{0};
    hsmp::obs::set_call_observer([](const hsmp::obs::CallEvent& e) noexcept {
        if (e.function == "C_Initialize") {
            ++calls;
            last_rv = e.rv;
        }
    });
    auto m = Module::load(ModuleSpec{HSMP_FAKE_SO, {}, {}});
    ASSERT_TRUE(m);
    ASSERT_TRUE(m.value()->ensure_initialized());
    hsmp::obs::set_call_observer(nullptr);
    EXPECT_EQ(calls.load(), 1);
    EXPECT_EQ(last_rv.load(), CKR_OK);
}

TEST_F(ModuleTest, ThreadIsMarkedInsideModuleCallsOnly) {
    EXPECT_FALSE(hsmp::p11::in_module_call());
    auto m = Module::load(ModuleSpec{HSMP_FAKE_SO, {}, {}});
    ASSERT_TRUE(m);
    ASSERT_TRUE(m.value()->ensure_initialized());
    EXPECT_FALSE(hsmp::p11::in_module_call());
}

} // namespace
