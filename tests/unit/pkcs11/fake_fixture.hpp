// Shared set-up for tests that drive the PKCS#11 layer against the in-process fake module
// (tests/fakes): a fresh fake state per test and a Library configured for it.
#pragma once

#include "fake_control.h"
#include "pkcs11/library.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace hsmp::test {

inline uri::Uri parse_uri(const std::string& text) {
    auto parsed = uri::parse(text);
    if (!parsed) {
        throw std::runtime_error("test URI does not parse: " + parsed.error.message);
    }
    return *parsed.uri;
}

class FakeModuleTest : public ::testing::Test {
protected:
    static FakeControl& fake() {
        static FakeControl control(HSMP_FAKE_SO);
        return control;
    }

    void SetUp() override { fake().fake_reset(); }
    void TearDown() override { fake().fake_reset(); }

    /// A library whose configured module is the fake, with the given PIN (empty: none).
    static std::shared_ptr<p11::Library> make_library(const std::string& pin = "1234",
                                                      p11::TokenConfig token = {}) {
        p11::LibraryConfig config;
        config.module.path = HSMP_FAKE_SO;
        if (!pin.empty()) {
            config.token_pin = p11::Pin{SecureBuffer(pin), "pkcs11-module-token-pin"};
        }
        config.token = token;
        return std::make_shared<p11::Library>(std::move(config));
    }
};

} // namespace hsmp::test
