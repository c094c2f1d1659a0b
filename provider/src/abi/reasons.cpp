#include "abi/reasons.hpp"

namespace hsmp::abi {

Reason reason_for(Code code) noexcept {
    switch (code) {
    case Code::NotFound:
        return HSMP_R_NOT_FOUND;
    case Code::Ambiguous:
        return HSMP_R_AMBIGUOUS;
    case Code::Unauthenticated:
        return HSMP_R_UNAUTHENTICATED;
    case Code::Locked:
        return HSMP_R_PIN_LOCKED;
    case Code::Unavailable:
        return HSMP_R_TOKEN_UNAVAILABLE;
    case Code::Unsupported:
        return HSMP_R_UNSUPPORTED;
    case Code::InvalidArgument:
        return HSMP_R_INVALID_ARGUMENT;
    case Code::Internal:
        return HSMP_R_INTERNAL;
    }
    return HSMP_R_INTERNAL;
}

const OSSL_ITEM* reason_strings() noexcept {
    static const OSSL_ITEM kReasons[] = {
        {HSMP_R_NOT_FOUND, const_cast<char*>("object not found")},
        {HSMP_R_AMBIGUOUS, const_cast<char*>("URI matches more than one object")},
        {HSMP_R_UNAUTHENTICATED, const_cast<char*>("token login failed")},
        {HSMP_R_PIN_LOCKED, const_cast<char*>("PIN locked")},
        {HSMP_R_TOKEN_UNAVAILABLE, const_cast<char*>("token unavailable")},
        {HSMP_R_UNSUPPORTED, const_cast<char*>("operation not supported")},
        {HSMP_R_INVALID_ARGUMENT, const_cast<char*>("invalid argument")},
        {HSMP_R_INTERNAL, const_cast<char*>("internal error")},
        {HSMP_R_OUT_OF_MEMORY, const_cast<char*>("out of memory")},
        {HSMP_R_EXPORT_DENIED, const_cast<char*>("private key material cannot be exported")},
        {HSMP_R_BAD_CONFIG, const_cast<char*>("bad provider configuration")},
        {0, nullptr},
    };
    return kReasons;
}

} // namespace hsmp::abi
