// The provider's OpenSSL reason codes (ERR_GET_REASON of errors it raises) and their texts,
// served through OSSL_FUNC_PROVIDER_GET_REASON_STRINGS. One reason per hsmp::Code: the
// reason says what kind of failure it is; the error's data string names the native cause
// (the URI, the C_* function and the CKR_* name).
#pragma once

#include "common/error.hpp"

#include <openssl/core.h>

namespace hsmp::abi {

enum Reason : int {
    HSMP_R_NOT_FOUND = 1,
    HSMP_R_AMBIGUOUS,
    HSMP_R_UNAUTHENTICATED,
    HSMP_R_PIN_LOCKED,
    HSMP_R_TOKEN_UNAVAILABLE,
    HSMP_R_UNSUPPORTED,
    HSMP_R_INVALID_ARGUMENT,
    HSMP_R_INTERNAL,
    HSMP_R_OUT_OF_MEMORY,
    HSMP_R_EXPORT_DENIED,
    HSMP_R_BAD_CONFIG,
};

[[nodiscard]] Reason reason_for(Code code) noexcept;

/// The {reason, text} table, terminated by {0, nullptr}.
[[nodiscard]] const OSSL_ITEM* reason_strings() noexcept;

} // namespace hsmp::abi
