// Checks the CK_RV table in pkcs11/rv.cpp: shape (sorted, unique), coverage of every
// CKR_* name p11-kit's pkcs11.h defines, the classes the session pool relies on, and the
// rendering of values that are not in the table.
#include "pkcs11/rv.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <string_view>

namespace {

using hsmp::Code;
using hsmp::p11::RvClass;

struct Named {
    CK_RV rv;
    const char* name;
};

// Every CKR_* macro of p11-kit 0.24's pkcs11.h, in header order. Built from the macros
// themselves, so a value change in the header is covered too.
constexpr auto kHeaderCodes = std::to_array<Named>({
    {CKR_OK, "CKR_OK"},
    {CKR_CANCEL, "CKR_CANCEL"},
    {CKR_HOST_MEMORY, "CKR_HOST_MEMORY"},
    {CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID"},
    {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR"},
    {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED"},
    {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD"},
    {CKR_NO_EVENT, "CKR_NO_EVENT"},
    {CKR_NEED_TO_CREATE_THREADS, "CKR_NEED_TO_CREATE_THREADS"},
    {CKR_CANT_LOCK, "CKR_CANT_LOCK"},
    {CKR_ATTRIBUTE_READ_ONLY, "CKR_ATTRIBUTE_READ_ONLY"},
    {CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE"},
    {CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID"},
    {CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID"},
    {CKR_ACTION_PROHIBITED, "CKR_ACTION_PROHIBITED"},
    {CKR_DATA_INVALID, "CKR_DATA_INVALID"},
    {CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE"},
    {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR"},
    {CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY"},
    {CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED"},
    {CKR_ENCRYPTED_DATA_INVALID, "CKR_ENCRYPTED_DATA_INVALID"},
    {CKR_ENCRYPTED_DATA_LEN_RANGE, "CKR_ENCRYPTED_DATA_LEN_RANGE"},
    {CKR_FUNCTION_CANCELED, "CKR_FUNCTION_CANCELED"},
    {CKR_FUNCTION_NOT_PARALLEL, "CKR_FUNCTION_NOT_PARALLEL"},
    {CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED"},
    {CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID"},
    {CKR_KEY_SIZE_RANGE, "CKR_KEY_SIZE_RANGE"},
    {CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT"},
    {CKR_KEY_NOT_NEEDED, "CKR_KEY_NOT_NEEDED"},
    {CKR_KEY_CHANGED, "CKR_KEY_CHANGED"},
    {CKR_KEY_NEEDED, "CKR_KEY_NEEDED"},
    {CKR_KEY_INDIGESTIBLE, "CKR_KEY_INDIGESTIBLE"},
    {CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED"},
    {CKR_KEY_NOT_WRAPPABLE, "CKR_KEY_NOT_WRAPPABLE"},
    {CKR_KEY_UNEXTRACTABLE, "CKR_KEY_UNEXTRACTABLE"},
    {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID"},
    {CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID"},
    {CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID"},
    {CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE"},
    {CKR_OPERATION_NOT_INITIALIZED, "CKR_OPERATION_NOT_INITIALIZED"},
    {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"},
    {CKR_PIN_INVALID, "CKR_PIN_INVALID"},
    {CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE"},
    {CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED"},
    {CKR_PIN_LOCKED, "CKR_PIN_LOCKED"},
    {CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED"},
    {CKR_SESSION_COUNT, "CKR_SESSION_COUNT"},
    {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID"},
    {CKR_SESSION_PARALLEL_NOT_SUPPORTED, "CKR_SESSION_PARALLEL_NOT_SUPPORTED"},
    {CKR_SESSION_READ_ONLY, "CKR_SESSION_READ_ONLY"},
    {CKR_SESSION_EXISTS, "CKR_SESSION_EXISTS"},
    {CKR_SESSION_READ_ONLY_EXISTS, "CKR_SESSION_READ_ONLY_EXISTS"},
    {CKR_SESSION_READ_WRITE_SO_EXISTS, "CKR_SESSION_READ_WRITE_SO_EXISTS"},
    {CKR_SIGNATURE_INVALID, "CKR_SIGNATURE_INVALID"},
    {CKR_SIGNATURE_LEN_RANGE, "CKR_SIGNATURE_LEN_RANGE"},
    {CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE"},
    {CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT"},
    {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT"},
    {CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED"},
    {CKR_TOKEN_WRITE_PROTECTED, "CKR_TOKEN_WRITE_PROTECTED"},
    {CKR_UNWRAPPING_KEY_HANDLE_INVALID, "CKR_UNWRAPPING_KEY_HANDLE_INVALID"},
    {CKR_UNWRAPPING_KEY_SIZE_RANGE, "CKR_UNWRAPPING_KEY_SIZE_RANGE"},
    {CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT, "CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT"},
    {CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN"},
    {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN"},
    {CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED"},
    {CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID"},
    {CKR_USER_ANOTHER_ALREADY_LOGGED_IN, "CKR_USER_ANOTHER_ALREADY_LOGGED_IN"},
    {CKR_USER_TOO_MANY_TYPES, "CKR_USER_TOO_MANY_TYPES"},
    {CKR_WRAPPED_KEY_INVALID, "CKR_WRAPPED_KEY_INVALID"},
    {CKR_WRAPPED_KEY_LEN_RANGE, "CKR_WRAPPED_KEY_LEN_RANGE"},
    {CKR_WRAPPING_KEY_HANDLE_INVALID, "CKR_WRAPPING_KEY_HANDLE_INVALID"},
    {CKR_WRAPPING_KEY_SIZE_RANGE, "CKR_WRAPPING_KEY_SIZE_RANGE"},
    {CKR_WRAPPING_KEY_TYPE_INCONSISTENT, "CKR_WRAPPING_KEY_TYPE_INCONSISTENT"},
    {CKR_RANDOM_SEED_NOT_SUPPORTED, "CKR_RANDOM_SEED_NOT_SUPPORTED"},
    {CKR_RANDOM_NO_RNG, "CKR_RANDOM_NO_RNG"},
    {CKR_DOMAIN_PARAMS_INVALID, "CKR_DOMAIN_PARAMS_INVALID"},
    {CKR_CURVE_NOT_SUPPORTED, "CKR_CURVE_NOT_SUPPORTED"},
    {CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL"},
    {CKR_SAVED_STATE_INVALID, "CKR_SAVED_STATE_INVALID"},
    {CKR_INFORMATION_SENSITIVE, "CKR_INFORMATION_SENSITIVE"},
    {CKR_STATE_UNSAVEABLE, "CKR_STATE_UNSAVEABLE"},
    {CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED"},
    {CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED"},
    {CKR_MUTEX_BAD, "CKR_MUTEX_BAD"},
    {CKR_MUTEX_NOT_LOCKED, "CKR_MUTEX_NOT_LOCKED"},
    {CKR_NEW_PIN_MODE, "CKR_NEW_PIN_MODE"},
    {CKR_NEXT_OTP, "CKR_NEXT_OTP"},
    {CKR_EXCEEDED_MAX_ITERATIONS, "CKR_EXCEEDED_MAX_ITERATIONS"},
    {CKR_FIPS_SELF_TEST_FAILED, "CKR_FIPS_SELF_TEST_FAILED"},
    {CKR_LIBRARY_LOAD_FAILED, "CKR_LIBRARY_LOAD_FAILED"},
    {CKR_PIN_TOO_WEAK, "CKR_PIN_TOO_WEAK"},
    {CKR_PUBLIC_KEY_INVALID, "CKR_PUBLIC_KEY_INVALID"},
    {CKR_FUNCTION_REJECTED, "CKR_FUNCTION_REJECTED"},
    {CKR_VENDOR_DEFINED, "CKR_VENDOR_DEFINED"},
});

// Values from the OASIS 3.0+ headers that p11-kit 0.24 does not define, or defines
// differently (see rv.cpp).
constexpr auto kOasisCodes = std::to_array<Named>({
    {0x42, "CKR_AEAD_DECRYPT_FAILED"},
    {0x1B5, "CKR_EXCEEDED_MAX_ITERATIONS"},
    {0x1B6, "CKR_FIPS_SELF_TEST_FAILED"},
    {0x1B7, "CKR_LIBRARY_LOAD_FAILED"},
    {0x1B8, "CKR_PIN_TOO_WEAK"},
    {0x1B9, "CKR_PUBLIC_KEY_INVALID"},
    {0x201, "CKR_TOKEN_RESOURCE_EXCEEDED"},
    {0x202, "CKR_OPERATION_CANCEL_FAILED"},
    {0x203, "CKR_KEY_EXHAUSTED"},
    {0x204, "CKR_PENDING"},
    {0x205, "CKR_SESSION_ASYNC_NOT_SUPPORTED"},
    {0x206, "CKR_SEED_RANDOM_REQUIRED"},
    {0x207, "CKR_OPERATION_NOT_VALIDATED"},
    {0x208, "CKR_TOKEN_NOT_INITIALIZED"},
    {0x209, "CKR_PARAMETER_SET_NOT_SUPPORTED"},
});

TEST(RvTable, SortedWithoutDuplicateValues) {
    const auto table = hsmp::p11::rv_table();
    ASSERT_FALSE(table.empty());
    for (std::size_t i = 1; i < table.size(); ++i) {
        EXPECT_LT(table[i - 1].rv, table[i].rv) << table[i - 1].name << " / " << table[i].name;
    }
}

TEST(RvTable, NamesAreWellFormed) {
    for (const auto& e : hsmp::p11::rv_table()) {
        ASSERT_NE(e.name, nullptr);
        EXPECT_TRUE(std::string_view(e.name).starts_with("CKR_")) << e.name;
    }
}

TEST(RvTable, CoversEveryHeaderCode) {
    for (const auto& c : kHeaderCodes) {
        EXPECT_STREQ(hsmp::p11::rv_name(c.rv), c.name) << std::hex << c.rv;
    }
}

TEST(RvTable, CoversOasisAdditions) {
    for (const auto& c : kOasisCodes) {
        EXPECT_STREQ(hsmp::p11::rv_name(c.rv), c.name) << std::hex << c.rv;
    }
}

TEST(RvTable, HasNothingBeyondTheKnownLists) {
    std::set<CK_RV> known;
    for (const auto& c : kHeaderCodes) {
        known.insert(c.rv);
    }
    for (const auto& c : kOasisCodes) {
        known.insert(c.rv);
    }
    for (const auto& e : hsmp::p11::rv_table()) {
        EXPECT_TRUE(known.contains(e.rv)) << e.name << " is in the table but in no list";
    }
    EXPECT_EQ(known.size(), hsmp::p11::rv_table().size());
}

TEST(RvTable, AliasesShareTheirClass) {
    // The p11-kit and OASIS values of the same name must behave alike.
    for (const auto& a : hsmp::p11::rv_table()) {
        for (const auto& b : hsmp::p11::rv_table()) {
            if (std::string_view(a.name) == b.name) {
                EXPECT_EQ(a.cls, b.cls) << a.name;
            }
        }
    }
}

#ifdef HSMP_P11KIT_PKCS11_H
// Optional: with the header's path defined, re-read it so a p11-kit upgrade that adds
// codes fails here until the table and kHeaderCodes learn them.
TEST(RvTable, HeaderHasNoUnlistedCodes) {
    std::ifstream in(HSMP_P11KIT_PKCS11_H);
    ASSERT_TRUE(in) << HSMP_P11KIT_PKCS11_H;
    const std::regex define(R"(^\s*#\s*define\s+(CKR_[A-Z0-9_]+)\s)");
    std::set<std::string> listed;
    for (const auto& c : kHeaderCodes) {
        listed.insert(c.name);
    }
    std::set<std::string> found;
    for (std::string line; std::getline(in, line);) {
        std::smatch m;
        if (std::regex_search(line, m, define)) {
            found.insert(m[1]);
        }
    }
    EXPECT_EQ(found, listed);
}
#endif

struct ClassCase {
    CK_RV rv;
    RvClass cls;
    Code code;
};

class RvClassTest : public testing::TestWithParam<ClassCase> {};

TEST_P(RvClassTest, ClassAndCode) {
    const auto& p = GetParam();
    EXPECT_EQ(hsmp::p11::rv_class(p.rv), p.cls)
        << hsmp::p11::rv_name(p.rv) << " is "
        << hsmp::p11::rv_class_name(hsmp::p11::rv_class(p.rv));
    EXPECT_EQ(hsmp::p11::rv_code(p.rv), p.code) << hsmp::p11::rv_name(p.rv);
}

INSTANTIATE_TEST_SUITE_P(
    KeyCodes, RvClassTest,
    testing::Values(ClassCase{CKR_OK, RvClass::Ok, Code::Internal},
                    ClassCase{CKR_SESSION_COUNT, RvClass::Retry, Code::Unavailable},
                    ClassCase{CKR_DEVICE_MEMORY, RvClass::Retry, Code::Unavailable},
                    ClassCase{0x201, RvClass::Retry, Code::Unavailable},
                    ClassCase{CKR_USER_NOT_LOGGED_IN, RvClass::Relogin, Code::Unauthenticated},
                    ClassCase{CKR_DEVICE_REMOVED, RvClass::Reconnect, Code::Unavailable},
                    ClassCase{CKR_DEVICE_ERROR, RvClass::Reconnect, Code::Unavailable},
                    ClassCase{CKR_SESSION_HANDLE_INVALID, RvClass::Reconnect, Code::Unavailable},
                    ClassCase{CKR_SESSION_CLOSED, RvClass::Reconnect, Code::Unavailable},
                    ClassCase{CKR_TOKEN_NOT_PRESENT, RvClass::Reconnect, Code::Unavailable},
                    ClassCase{CKR_TOKEN_NOT_RECOGNIZED, RvClass::Reconnect, Code::Unavailable},
                    ClassCase{CKR_SLOT_ID_INVALID, RvClass::Reconnect, Code::Unavailable},
                    ClassCase{CKR_CRYPTOKI_NOT_INITIALIZED, RvClass::Reconnect, Code::Unavailable},
                    ClassCase{CKR_KEY_HANDLE_INVALID, RvClass::Reconnect, Code::Unavailable},
                    ClassCase{CKR_OBJECT_HANDLE_INVALID, RvClass::Reconnect, Code::Unavailable},
                    ClassCase{CKR_PIN_INCORRECT, RvClass::PinIncorrect, Code::Unauthenticated},
                    ClassCase{CKR_PIN_INVALID, RvClass::PinIncorrect, Code::Unauthenticated},
                    ClassCase{CKR_PIN_LEN_RANGE, RvClass::PinIncorrect, Code::Unauthenticated},
                    ClassCase{CKR_PIN_LOCKED, RvClass::PinLocked, Code::Locked},
                    ClassCase{CKR_PIN_EXPIRED, RvClass::PinLocked, Code::Locked},
                    ClassCase{CKR_USER_PIN_NOT_INITIALIZED, RvClass::PinLocked, Code::Locked},
                    ClassCase{CKR_MECHANISM_INVALID, RvClass::Unsupported, Code::Unsupported},
                    ClassCase{CKR_MECHANISM_PARAM_INVALID, RvClass::Unsupported, Code::Unsupported},
                    ClassCase{CKR_FUNCTION_NOT_SUPPORTED, RvClass::Unsupported, Code::Unsupported},
                    ClassCase{CKR_ATTRIBUTE_TYPE_INVALID, RvClass::Unsupported, Code::Unsupported},
                    ClassCase{CKR_ATTRIBUTE_SENSITIVE, RvClass::Unsupported, Code::Unsupported},
                    ClassCase{CKR_KEY_FUNCTION_NOT_PERMITTED, RvClass::Unsupported,
                              Code::Unsupported},
                    ClassCase{CKR_ARGUMENTS_BAD, RvClass::Argument, Code::InvalidArgument},
                    ClassCase{CKR_DATA_LEN_RANGE, RvClass::Argument, Code::InvalidArgument},
                    ClassCase{CKR_TEMPLATE_INCONSISTENT, RvClass::Argument, Code::InvalidArgument},
                    ClassCase{CKR_BUFFER_TOO_SMALL, RvClass::Argument, Code::InvalidArgument},
                    ClassCase{CKR_SIGNATURE_INVALID, RvClass::Argument, Code::InvalidArgument},
                    ClassCase{CKR_GENERAL_ERROR, RvClass::Fatal, Code::Internal},
                    ClassCase{CKR_FUNCTION_FAILED, RvClass::Fatal, Code::Internal},
                    ClassCase{CKR_HOST_MEMORY, RvClass::Fatal, Code::Internal},
                    ClassCase{CKR_OPERATION_ACTIVE, RvClass::Fatal, Code::Internal},
                    ClassCase{CKR_VENDOR_DEFINED, RvClass::Fatal, Code::Internal},
                    ClassCase{CKR_VENDOR_DEFINED + 0x1234, RvClass::Fatal, Code::Internal},
                    ClassCase{0xabcd, RvClass::Fatal, Code::Internal}),
    // Readable CTest names: CKR_PIN_INCORRECT_15 instead of a byte dump of the parameter.
    [](const testing::TestParamInfo<ClassCase>& info) {
        return std::string(hsmp::p11::rv_name(info.param.rv)) + "_" + std::to_string(info.index);
    });

TEST(RvName, UnknownAndVendorValues) {
    EXPECT_STREQ(hsmp::p11::rv_name(CKR_PIN_INCORRECT), "CKR_PIN_INCORRECT");
    EXPECT_STREQ(hsmp::p11::rv_name(CKR_VENDOR_DEFINED), "CKR_VENDOR_DEFINED");
    EXPECT_STREQ(hsmp::p11::rv_name(CKR_VENDOR_DEFINED + 0x1234), "CKR_VENDOR_DEFINED");
    EXPECT_STREQ(hsmp::p11::rv_name(0xabcd), "CKR_UNKNOWN");
    EXPECT_STREQ(hsmp::p11::rv_name(0x4), "CKR_UNKNOWN"); // a gap in the numbering
}

TEST(RvDescribe, RendersNumbersWhenTheNameIsNotEnough) {
    EXPECT_EQ(hsmp::p11::rv_describe(CKR_PIN_INCORRECT), "CKR_PIN_INCORRECT");
    EXPECT_EQ(hsmp::p11::rv_describe(CKR_VENDOR_DEFINED), "CKR_VENDOR_DEFINED");
    EXPECT_EQ(hsmp::p11::rv_describe(CKR_VENDOR_DEFINED + 0x1234), "CKR_VENDOR_DEFINED+0x1234");
    EXPECT_EQ(hsmp::p11::rv_describe(0xabcd), "unknown CK_RV 0x0000abcd");
    EXPECT_EQ(hsmp::p11::rv_describe(0x1B9), "CKR_PUBLIC_KEY_INVALID");
    EXPECT_EQ(hsmp::p11::rv_describe(0x7fffffff), "unknown CK_RV 0x7fffffff");
    // CK_RV is 64 bits on LP64; vendor offsets beyond 32 bits keep every digit.
    EXPECT_EQ(hsmp::p11::rv_describe(CKR_VENDOR_DEFINED + 0x100000000UL),
              "CKR_VENDOR_DEFINED+0x100000000");
}

TEST(RvError, CarriesCodeFunctionValueAndName) {
    const hsmp::Error e = hsmp::p11::rv_error("C_Login", CKR_PIN_INCORRECT, "token fake-token");
    EXPECT_EQ(e.code(), Code::Unauthenticated);
    EXPECT_EQ(e.function(), "C_Login");
    EXPECT_EQ(e.rv(), CKR_PIN_INCORRECT);
    EXPECT_EQ(e.rv_name(), "CKR_PIN_INCORRECT");
    EXPECT_EQ(e.context(), "token fake-token");
    EXPECT_EQ(e.message(), "token fake-token: C_Login: CKR_PIN_INCORRECT");
    EXPECT_STRNE(e.where().file_name(), "");

    const hsmp::Error v = hsmp::p11::rv_error("C_Sign", CKR_VENDOR_DEFINED + 7, "");
    EXPECT_EQ(v.code(), Code::Internal);
    EXPECT_EQ(v.rv_name(), "CKR_VENDOR_DEFINED+0x7");
}

TEST(RvClassName, EveryClassHasADistinctName) {
    std::set<std::string_view> names;
    for (auto c :
         {RvClass::Ok, RvClass::Retry, RvClass::Relogin, RvClass::Reconnect, RvClass::PinIncorrect,
          RvClass::PinLocked, RvClass::Unsupported, RvClass::Argument, RvClass::Fatal}) {
        names.insert(hsmp::p11::rv_class_name(c));
    }
    EXPECT_EQ(names.size(), 9U);
}

} // namespace
