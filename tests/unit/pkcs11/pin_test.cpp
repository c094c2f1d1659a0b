// PIN files and sources: contents, trailing newlines, and errors that name the source only.
#include "pkcs11/pin.hpp"
#include "temp_path.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

using hsmp::Code;
using hsmp::p11::config_pin;
using hsmp::p11::read_pin_file;
using hsmp::p11::read_pin_source;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

std::string write_file(const std::string& name, const std::string& content) {
    const std::string path = hsmp::test::private_temp_path(name);
    std::ofstream(path, std::ios::binary) << content;
    return path;
}

TEST(PinTest, StripsOneTrailingNewline) {
    auto p = read_pin_file(write_file("pin1", "4321\n"), "PIN file");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->value.view(), "4321");
    auto crlf = read_pin_file(write_file("pin2", "4321\r\n"), "PIN file");
    ASSERT_TRUE(crlf);
    EXPECT_EQ(crlf->value.view(), "4321");
    auto raw = read_pin_file(write_file("pin3", "43 21"), "PIN file");
    ASSERT_TRUE(raw);
    EXPECT_EQ(raw->value.view(), "43 21");
}

TEST(PinTest, EmptyFileIsAnError) {
    auto p = read_pin_file(write_file("pin-empty", ""), "PIN file");
    ASSERT_FALSE(p);
    EXPECT_THAT(p.error().message(), HasSubstr("is empty"));
    auto nl = read_pin_file(write_file("pin-nl", "\n"), "PIN file");
    ASSERT_FALSE(nl);
}

TEST(PinTest, MissingFileNamesPathNotContent) {
    auto p = read_pin_file("/nonexistent/dir/pin", "pin-source file");
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().code(), Code::NotFound);
    EXPECT_THAT(p.error().message(), HasSubstr("pin-source file \"/nonexistent/dir/pin\""));
}

TEST(PinTest, DirectoryIsNotAPinFile) {
    auto p = read_pin_file("/tmp", "PIN file");
    ASSERT_FALSE(p);
    EXPECT_THAT(p.error().message(), HasSubstr("Is a directory"));
}

TEST(PinTest, HugeFileIsRefused) {
    auto p = read_pin_file(write_file("pin-huge", std::string(10000, '7')), "PIN file");
    ASSERT_FALSE(p);
    EXPECT_THAT(p.error().message(), HasSubstr("larger than 4096 bytes"));
    EXPECT_THAT(p.error().message(), Not(HasSubstr("7777")));
}

TEST(PinTest, PinSourceForms) {
    const std::string path = write_file("pin-src", "1234");
    for (const std::string& form : {path, "file:" + path, "file://" + path}) {
        auto p = read_pin_source(form);
        ASSERT_TRUE(p) << form << ": " << p.error().message();
        EXPECT_EQ(p->value.view(), "1234");
    }
    auto rel = read_pin_source("relative/pin");
    ASSERT_FALSE(rel);
    EXPECT_EQ(rel.error().code(), Code::InvalidArgument);
    EXPECT_THAT(rel.error().message(), HasSubstr("absolute file path"));
}

TEST(PinTest, ConfigPinIsLiteralOrFile) {
    auto lit = config_pin("0000");
    ASSERT_TRUE(lit);
    EXPECT_EQ(lit->value.view(), "0000");
    EXPECT_EQ(lit->source, "pkcs11-module-token-pin");
    auto file = config_pin("file:" + write_file("pin-cfg", "5555\n"));
    ASSERT_TRUE(file);
    EXPECT_EQ(file->value.view(), "5555");
    EXPECT_THAT(file->source, HasSubstr("pkcs11-module-token-pin file"));
    EXPECT_FALSE(config_pin(""));
}

TEST(SecureBufferTest, ComparesAndWipes) {
    hsmp::SecureBuffer b("secret");
    EXPECT_TRUE(b.equals("secret"));
    EXPECT_FALSE(b.equals("secreT"));
    EXPECT_FALSE(b.equals("secrets"));
    hsmp::SecureBuffer moved = std::move(b);
    EXPECT_TRUE(b.empty()); // NOLINT(bugprone-use-after-move): moved-from is empty by contract
    EXPECT_EQ(moved.view(), "secret");
    moved.clear();
    EXPECT_TRUE(moved.empty());
}

} // namespace
