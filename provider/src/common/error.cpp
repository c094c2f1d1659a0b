#include "common/error.hpp"

#include <cstring>
#include <utility>

namespace hsmp {

std::string errno_text(int err) {
    char buf[256] = {};
    return strerror_r(err, buf, sizeof buf); // GNU strerror_r: returns the text
}

std::string_view code_name(Code code) noexcept {
    switch (code) {
    case Code::NotFound:
        return "not found";
    case Code::Ambiguous:
        return "ambiguous";
    case Code::Unauthenticated:
        return "unauthenticated";
    case Code::Locked:
        return "locked";
    case Code::Unavailable:
        return "unavailable";
    case Code::Unsupported:
        return "unsupported";
    case Code::InvalidArgument:
        return "invalid argument";
    case Code::Internal:
        return "internal";
    }
    return "unknown";
}

Error::Error(Code code, std::string context, std::source_location where)
    : m_code(code), m_context(std::move(context)), m_where(where) {}

Error::Error(Code code, std::string_view function, unsigned long rv, std::string_view rv_name,
             std::string context, std::source_location where)
    : m_code(code), m_rv(rv), m_function(function), m_rv_name(rv_name),
      m_context(std::move(context)), m_where(where) {}

std::string Error::message() const {
    std::string out = m_context;
    if (has_rv()) {
        if (!out.empty()) {
            out += ": ";
        }
        out += m_function;
        out += ": ";
        out += m_rv_name;
    }
    return out;
}

Error Error::with_context(std::string_view outer) const {
    Error copy = *this;
    std::string joined(outer);
    if (!m_context.empty()) {
        joined += ": ";
        joined += m_context;
    }
    copy.m_context = std::move(joined);
    return copy;
}

} // namespace hsmp
