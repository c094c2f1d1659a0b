#include "abi/core.hpp"

#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdarg>
#include <cstring>
#include <span>
#include <string_view>

namespace hsmp::abi {

namespace {
// Written once, at the first OSSL_provider_init, before any other thread can call in.
CoreFunctions g_core;
std::atomic<bool> g_core_set{false};
} // namespace

CoreFunctions CoreFunctions::capture(const OSSL_CORE_HANDLE* handle, const OSSL_DISPATCH* in) {
    CoreFunctions c;
    c.handle = handle;
    for (; in != nullptr && in->function_id != 0; ++in) {
        switch (in->function_id) {
        case OSSL_FUNC_CORE_GET_PARAMS:
            c.get_params = OSSL_FUNC_core_get_params(in);
            break;
        case OSSL_FUNC_CORE_GET_LIBCTX:
            c.get_libctx = OSSL_FUNC_core_get_libctx(in);
            break;
        case OSSL_FUNC_CORE_NEW_ERROR:
            c.new_error = OSSL_FUNC_core_new_error(in);
            break;
        case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
            c.set_error_debug = OSSL_FUNC_core_set_error_debug(in);
            break;
        case OSSL_FUNC_CORE_VSET_ERROR:
            c.vset_error = OSSL_FUNC_core_vset_error(in);
            break;
        default:
            break;
        }
    }
    return c;
}

namespace {

// "hsmp::Result<T> hsmp::parse_config(const std::vector<...>&)" -> "hsmp::parse_config":
// the error queue shows the function, not its C++ signature. Written into `out` (OpenSSL
// copies it), so raising an error allocates nothing here.
void short_function(std::string_view pretty, std::span<char> out) noexcept {
    const auto paren = pretty.find('(');
    if (paren != std::string_view::npos) {
        pretty = pretty.substr(0, paren);
    }
    const auto space = pretty.rfind(' ');
    if (space != std::string_view::npos) {
        pretty = pretty.substr(space + 1);
    }
    const std::size_t n = std::min(pretty.size(), out.size() - 1);
    std::memcpy(out.data(), pretty.data(), n);
    out[n] = '\0';
}

void vset(const CoreFunctions& c, int reason, const char* fmt, ...) {
    va_list args;
    va_start(args, fmt);
    c.vset_error(c.handle, static_cast<uint32_t>(reason), fmt, args);
    va_end(args);
}

} // namespace

void CoreFunctions::raise(const Error& error) const noexcept {
    if (!error.has_rv()) {
        // The message is the context itself: no copy.
        raise(reason_for(error.code()), error.context().c_str(), error.where());
        return;
    }
    try {
        const std::string msg = error.message();
        raise(reason_for(error.code()), msg.c_str(), error.where());
    } catch (...) {
        raise(HSMP_R_OUT_OF_MEMORY, "out of memory while reporting an error");
    }
}

void CoreFunctions::raise(Reason reason, const char* message,
                          const std::source_location& where) const noexcept {
    if (new_error == nullptr || vset_error == nullptr) {
        return;
    }
    new_error(handle);
    if (set_error_debug != nullptr) {
        std::array<char, 128> fn{};
        short_function(where.function_name(), fn);
        set_error_debug(handle, where.file_name(), static_cast<int>(where.line()), fn.data());
    }
    vset(*this, reason, "%s", message);
}

std::string CoreFunctions::get_string(const char* name) const {
    if (get_params == nullptr) {
        return {};
    }
    const char* value = nullptr;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_ptr(name, const_cast<char**>(&value), 0),
        OSSL_PARAM_construct_end(),
    };
    if (get_params(handle, params) == 0 || value == nullptr) {
        return {};
    }
    return value;
}

const CoreFunctions& core() noexcept {
    return g_core;
}

void set_core(const CoreFunctions& c) noexcept {
    bool expected = false;
    if (g_core_set.compare_exchange_strong(expected, true)) {
        g_core = c;
    }
}

} // namespace hsmp::abi
