#include "pkcs11/rv.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>

namespace hsmp::p11 {
namespace {

using C = RvClass;

// Return values newer than p11-kit 0.24's header, written from the OASIS PKCS#11 3.0
// base specification (section 5.1) and the 3.1/3.2 revisions. Constants under our own
// names rather than #ifndef'd CKR_ macros: no clash when a later p11-kit defines them, and
// the values stay the specification's.
constexpr CK_RV kAeadDecryptFailed = 0x42;
constexpr CK_RV kTokenResourceExceeded = 0x201;
constexpr CK_RV kOperationCancelFailed = 0x202;
constexpr CK_RV kKeyExhausted = 0x203;
constexpr CK_RV kPending = 0x204;
constexpr CK_RV kSessionAsyncNotSupported = 0x205;
constexpr CK_RV kSeedRandomRequired = 0x206;
constexpr CK_RV kOperationNotValidated = 0x207;
constexpr CK_RV kTokenNotInitialized = 0x208;
constexpr CK_RV kParameterSetNotSupported = 0x209;

// Five codes have two values in the wild. The OASIS 2.40 and 3.0 headers define
// CKR_EXCEEDED_MAX_ITERATIONS..CKR_PUBLIC_KEY_INVALID as 0x1B5..0x1B9; p11-kit's pkcs11.h
// (0.24, inherited from an earlier independent header) has 0x1C0..0x1C4. Modules built
// against the OASIS headers (SoftHSM2, most vendors) return the former, modules built
// against p11-kit the latter, so both are named. Literal values, not the macros, so the
// table stays correct whichever header a later p11-kit ships.
constexpr CK_RV kOasisExceededMaxIterations = 0x1B5;
constexpr CK_RV kOasisPublicKeyInvalid = 0x1B9;
constexpr CK_RV kP11KitExceededMaxIterations = 0x1C0;
constexpr CK_RV kP11KitPublicKeyInvalid = 0x1C4;

// Sorted by value (checked below). Classes follow the spec's description of each code
// (PKCS#11 2.40 base, section 5.1); the comments explain the choices that are not obvious.
constexpr std::array kTable = std::to_array<RvEntry>({
    {CKR_OK, "CKR_OK", C::Ok},
    // Only from a notify callback telling the module to cancel; nothing to retry.
    {CKR_CANCEL, "CKR_CANCEL", C::Fatal},
    {CKR_HOST_MEMORY, "CKR_HOST_MEMORY", C::Fatal},
    // A slot id that vanished: the module re-enumerated (re-initialised, hot-plug).
    {CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID", C::Reconnect},
    {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR", C::Fatal},
    {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED", C::Fatal},
    {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD", C::Argument},
    {CKR_NO_EVENT, "CKR_NO_EVENT", C::Fatal},
    {CKR_NEED_TO_CREATE_THREADS, "CKR_NEED_TO_CREATE_THREADS", C::Fatal},
    {CKR_CANT_LOCK, "CKR_CANT_LOCK", C::Fatal},
    {CKR_ATTRIBUTE_READ_ONLY, "CKR_ATTRIBUTE_READ_ONLY", C::Argument},
    // The value exists but the token will not reveal it: asking again never helps.
    {CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE", C::Unsupported},
    {CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID", C::Unsupported},
    {CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID", C::Argument},
    // Policy forbids the action (3.0): like a key usage restriction.
    {CKR_ACTION_PROHIBITED, "CKR_ACTION_PROHIBITED", C::Unsupported},
    {CKR_DATA_INVALID, "CKR_DATA_INVALID", C::Argument},
    {CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE", C::Argument},
    {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR", C::Reconnect},
    // The token ran out of its own memory; other sessions may release some.
    {CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY", C::Retry},
    {CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED", C::Reconnect},
    {CKR_ENCRYPTED_DATA_INVALID, "CKR_ENCRYPTED_DATA_INVALID", C::Argument},
    {CKR_ENCRYPTED_DATA_LEN_RANGE, "CKR_ENCRYPTED_DATA_LEN_RANGE", C::Argument},
    {kAeadDecryptFailed, "CKR_AEAD_DECRYPT_FAILED", C::Argument},
    {CKR_FUNCTION_CANCELED, "CKR_FUNCTION_CANCELED", C::Fatal},
    {CKR_FUNCTION_NOT_PARALLEL, "CKR_FUNCTION_NOT_PARALLEL", C::Fatal},
    {CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED", C::Unsupported},
    // Handles go stale when the token is re-inserted or the module re-initialised; the
    // reconnect path re-finds objects by CKA_ID. A genuinely bad handle fails again after
    // the single retry, so the cost of this choice is bounded.
    {CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID", C::Reconnect},
    {CKR_KEY_SIZE_RANGE, "CKR_KEY_SIZE_RANGE", C::Unsupported},
    // The key cannot be used with this mechanism: the caller asked for something this key
    // does not do, rather than sending malformed data.
    {CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT", C::Unsupported},
    {CKR_KEY_NOT_NEEDED, "CKR_KEY_NOT_NEEDED", C::Argument},
    {CKR_KEY_CHANGED, "CKR_KEY_CHANGED", C::Argument},
    {CKR_KEY_NEEDED, "CKR_KEY_NEEDED", C::Argument},
    {CKR_KEY_INDIGESTIBLE, "CKR_KEY_INDIGESTIBLE", C::Unsupported},
    {CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED", C::Unsupported},
    {CKR_KEY_NOT_WRAPPABLE, "CKR_KEY_NOT_WRAPPABLE", C::Unsupported},
    {CKR_KEY_UNEXTRACTABLE, "CKR_KEY_UNEXTRACTABLE", C::Unsupported},
    {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID", C::Unsupported},
    {CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID", C::Unsupported},
    {CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID", C::Reconnect},
    // Our own state-tracking bug (an operation left open on a session): not the token's.
    {CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE", C::Fatal},
    {CKR_OPERATION_NOT_INITIALIZED, "CKR_OPERATION_NOT_INITIALIZED", C::Fatal},
    {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT", C::PinIncorrect},
    {CKR_PIN_INVALID, "CKR_PIN_INVALID", C::PinIncorrect},
    {CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE", C::PinIncorrect},
    {CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED", C::PinLocked},
    {CKR_PIN_LOCKED, "CKR_PIN_LOCKED", C::PinLocked},
    {CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED", C::Reconnect},
    // The token's session limit: another lease will be returned soon (STYLE section 6).
    {CKR_SESSION_COUNT, "CKR_SESSION_COUNT", C::Retry},
    {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID", C::Reconnect},
    {CKR_SESSION_PARALLEL_NOT_SUPPORTED, "CKR_SESSION_PARALLEL_NOT_SUPPORTED", C::Unsupported},
    {CKR_SESSION_READ_ONLY, "CKR_SESSION_READ_ONLY", C::Argument},
    {CKR_SESSION_EXISTS, "CKR_SESSION_EXISTS", C::Fatal},
    {CKR_SESSION_READ_ONLY_EXISTS, "CKR_SESSION_READ_ONLY_EXISTS", C::Fatal},
    {CKR_SESSION_READ_WRITE_SO_EXISTS, "CKR_SESSION_READ_WRITE_SO_EXISTS", C::Fatal},
    // A verification that failed is an answer about the caller's data.
    {CKR_SIGNATURE_INVALID, "CKR_SIGNATURE_INVALID", C::Argument},
    {CKR_SIGNATURE_LEN_RANGE, "CKR_SIGNATURE_LEN_RANGE", C::Argument},
    {CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE", C::Argument},
    {CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT", C::Argument},
    {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT", C::Reconnect},
    // Seen while a token is being inserted or a remote HSM reconnects.
    {CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED", C::Reconnect},
    {CKR_TOKEN_WRITE_PROTECTED, "CKR_TOKEN_WRITE_PROTECTED", C::Unsupported},
    {CKR_UNWRAPPING_KEY_HANDLE_INVALID, "CKR_UNWRAPPING_KEY_HANDLE_INVALID", C::Argument},
    {CKR_UNWRAPPING_KEY_SIZE_RANGE, "CKR_UNWRAPPING_KEY_SIZE_RANGE", C::Argument},
    {CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT, "CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT", C::Argument},
    // Callers of C_Login treat this as success before classifying; anywhere else it means
    // our login bookkeeping is wrong.
    {CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN", C::Fatal},
    {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN", C::Relogin},
    // No user PIN was ever set: only the security officer can fix that, as with a lock.
    {CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED", C::PinLocked},
    {CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID", C::Argument},
    // Someone is logged in as SO on this token: log out and in as the user.
    {CKR_USER_ANOTHER_ALREADY_LOGGED_IN, "CKR_USER_ANOTHER_ALREADY_LOGGED_IN", C::Relogin},
    {CKR_USER_TOO_MANY_TYPES, "CKR_USER_TOO_MANY_TYPES", C::Fatal},
    {CKR_WRAPPED_KEY_INVALID, "CKR_WRAPPED_KEY_INVALID", C::Argument},
    {CKR_WRAPPED_KEY_LEN_RANGE, "CKR_WRAPPED_KEY_LEN_RANGE", C::Argument},
    {CKR_WRAPPING_KEY_HANDLE_INVALID, "CKR_WRAPPING_KEY_HANDLE_INVALID", C::Argument},
    {CKR_WRAPPING_KEY_SIZE_RANGE, "CKR_WRAPPING_KEY_SIZE_RANGE", C::Argument},
    {CKR_WRAPPING_KEY_TYPE_INCONSISTENT, "CKR_WRAPPING_KEY_TYPE_INCONSISTENT", C::Argument},
    {CKR_RANDOM_SEED_NOT_SUPPORTED, "CKR_RANDOM_SEED_NOT_SUPPORTED", C::Unsupported},
    {CKR_RANDOM_NO_RNG, "CKR_RANDOM_NO_RNG", C::Unsupported},
    {CKR_DOMAIN_PARAMS_INVALID, "CKR_DOMAIN_PARAMS_INVALID", C::Unsupported},
    {CKR_CURVE_NOT_SUPPORTED, "CKR_CURVE_NOT_SUPPORTED", C::Unsupported},
    {CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL", C::Argument},
    {CKR_SAVED_STATE_INVALID, "CKR_SAVED_STATE_INVALID", C::Argument},
    {CKR_INFORMATION_SENSITIVE, "CKR_INFORMATION_SENSITIVE", C::Unsupported},
    {CKR_STATE_UNSAVEABLE, "CKR_STATE_UNSAVEABLE", C::Unsupported},
    // The module lost its initialisation (a fork, or another library finalised it).
    {CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED", C::Reconnect},
    // Callers of C_Initialize treat this as success (another library in the process got
    // there first) before classifying.
    {CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED", C::Fatal},
    {CKR_MUTEX_BAD, "CKR_MUTEX_BAD", C::Fatal},
    {CKR_MUTEX_NOT_LOCKED, "CKR_MUTEX_NOT_LOCKED", C::Fatal},
    {CKR_NEW_PIN_MODE, "CKR_NEW_PIN_MODE", C::Fatal},
    {CKR_NEXT_OTP, "CKR_NEXT_OTP", C::Fatal},
    {kOasisExceededMaxIterations, "CKR_EXCEEDED_MAX_ITERATIONS", C::Fatal},
    {kOasisExceededMaxIterations + 1, "CKR_FIPS_SELF_TEST_FAILED", C::Fatal},
    {kOasisExceededMaxIterations + 2, "CKR_LIBRARY_LOAD_FAILED", C::Fatal},
    {kOasisExceededMaxIterations + 3, "CKR_PIN_TOO_WEAK", C::Argument},
    {kOasisPublicKeyInvalid, "CKR_PUBLIC_KEY_INVALID", C::Argument},
    {kP11KitExceededMaxIterations, "CKR_EXCEEDED_MAX_ITERATIONS", C::Fatal},
    {kP11KitExceededMaxIterations + 1, "CKR_FIPS_SELF_TEST_FAILED", C::Fatal},
    {kP11KitExceededMaxIterations + 2, "CKR_LIBRARY_LOAD_FAILED", C::Fatal},
    {kP11KitExceededMaxIterations + 3, "CKR_PIN_TOO_WEAK", C::Argument},
    {kP11KitPublicKeyInvalid, "CKR_PUBLIC_KEY_INVALID", C::Argument},
    // The user declined on the token's own keypad or display: not ours to retry.
    {CKR_FUNCTION_REJECTED, "CKR_FUNCTION_REJECTED", C::Fatal},
    // The token lacks the resources right now; the spec invites a later retry.
    {kTokenResourceExceeded, "CKR_TOKEN_RESOURCE_EXCEEDED", C::Retry},
    {kOperationCancelFailed, "CKR_OPERATION_CANCEL_FAILED", C::Fatal},
    // The key's usage limit is spent: no session or login brings it back.
    {kKeyExhausted, "CKR_KEY_EXHAUSTED", C::Fatal},
    // Only for asynchronous sessions, which this project never requests.
    {kPending, "CKR_PENDING", C::Fatal},
    {kSessionAsyncNotSupported, "CKR_SESSION_ASYNC_NOT_SUPPORTED", C::Unsupported},
    {kSeedRandomRequired, "CKR_SEED_RANDOM_REQUIRED", C::Fatal},
    {kOperationNotValidated, "CKR_OPERATION_NOT_VALIDATED", C::Unsupported},
    {kTokenNotInitialized, "CKR_TOKEN_NOT_INITIALIZED", C::Fatal},
    {kParameterSetNotSupported, "CKR_PARAMETER_SET_NOT_SUPPORTED", C::Unsupported},
    {CKR_VENDOR_DEFINED, "CKR_VENDOR_DEFINED", C::Fatal},
});

constexpr bool strictly_sorted() {
    return std::adjacent_find(kTable.begin(), kTable.end(), [](const RvEntry& a, const RvEntry& b) {
               return a.rv >= b.rv;
           }) == kTable.end();
}
static_assert(strictly_sorted(), "kTable must be sorted by value without duplicates");

const RvEntry* find(CK_RV rv) noexcept {
    const auto* it = std::lower_bound(kTable.begin(), kTable.end(), rv,
                                      [](const RvEntry& e, CK_RV v) { return e.rv < v; });
    if (it == kTable.end() || it->rv != rv) {
        return nullptr;
    }
    return it;
}

} // namespace

std::span<const RvEntry> rv_table() noexcept {
    return kTable;
}

const char* rv_name(CK_RV rv) noexcept {
    if (const RvEntry* e = find(rv)) {
        return e->name;
    }
    return rv >= CKR_VENDOR_DEFINED ? "CKR_VENDOR_DEFINED" : "CKR_UNKNOWN";
}

std::string rv_describe(CK_RV rv) {
    if (const RvEntry* e = find(rv)) {
        return e->name;
    }
    // CK_RV is an unsigned long: 64 bits on LP64, so a vendor offset can exceed 32 bits.
    const bool vendor = rv >= CKR_VENDOR_DEFINED;
    const CK_RV shown = vendor ? rv - CKR_VENDOR_DEFINED : rv;
    std::array<char, 2 * sizeof(CK_RV)> digits{};
    const auto res = std::to_chars(digits.begin(), digits.end(), shown, 16);
    std::string hex(digits.begin(), res.ptr);
    if (vendor) {
        return "CKR_VENDOR_DEFINED+0x" + hex;
    }
    if (hex.size() < 8) {
        hex.insert(0, 8 - hex.size(), '0');
    }
    return "unknown CK_RV 0x" + hex;
}

RvClass rv_class(CK_RV rv) noexcept {
    const RvEntry* e = find(rv);
    return e != nullptr ? e->cls : RvClass::Fatal;
}

std::string_view rv_class_name(RvClass cls) noexcept {
    switch (cls) {
    case RvClass::Ok:
        return "ok";
    case RvClass::Retry:
        return "retry";
    case RvClass::Relogin:
        return "relogin";
    case RvClass::Reconnect:
        return "reconnect";
    case RvClass::PinIncorrect:
        return "pin-incorrect";
    case RvClass::PinLocked:
        return "pin-locked";
    case RvClass::Unsupported:
        return "unsupported";
    case RvClass::Argument:
        return "argument";
    case RvClass::Fatal:
        return "fatal";
    }
    return "fatal";
}

hsmp::Code rv_code(CK_RV rv) noexcept {
    switch (rv_class(rv)) {
    case RvClass::PinIncorrect:
    case RvClass::Relogin:
        return hsmp::Code::Unauthenticated;
    case RvClass::PinLocked:
        return hsmp::Code::Locked;
    case RvClass::Retry:
    case RvClass::Reconnect:
        return hsmp::Code::Unavailable;
    case RvClass::Unsupported:
        return hsmp::Code::Unsupported;
    case RvClass::Argument:
        return hsmp::Code::InvalidArgument;
    case RvClass::Ok:
    case RvClass::Fatal:
        return hsmp::Code::Internal;
    }
    return hsmp::Code::Internal;
}

hsmp::Error rv_error(std::string_view function, CK_RV rv, std::string context,
                     std::source_location where) {
    return {rv_code(rv), function, rv, rv_describe(rv), std::move(context), where};
}

} // namespace hsmp::p11
