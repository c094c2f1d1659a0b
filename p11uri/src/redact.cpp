// Keeping PINs out of parse error messages.
//
// The parser reports the first problem and stops, so the text after it has never been
// tokenised: a PIN there may sit in a malformed attribute, behind a wrong separator or with
// odd spelling. The masking below therefore does its own, looser scan, and errs towards
// hiding too much.
#include "redact.hpp"

#include "grammar.hpp"

#include <array>

namespace hsmp::uri::detail {
namespace {

constexpr std::size_t kEchoMax = 200;
constexpr std::string_view kMasked = "pin-value=***";

constexpr bool is_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

constexpr char lower(unsigned char c) noexcept {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

/// A position where an attribute name may start: the beginning, or after a separator of
/// either component, after "?", or after ":" (which ends the scheme).
constexpr bool is_boundary(char c) noexcept {
    return c == ';' || c == '&' || c == '?' || c == ':';
}

void append_escaped(std::string& out, unsigned char c) {
    static constexpr std::string_view kHex = "0123456789abcdef";
    if (c == '"' || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
        out += "\\x";
        out += kHex[c >> 4U];
        out += kHex[c & 0xFU];
    } else {
        out += static_cast<char>(c);
    }
}

} // namespace

bool has_scheme(std::string_view text) noexcept {
    if (text.size() < kScheme.size()) {
        return false;
    }
    for (std::size_t i = 0; i < kScheme.size(); ++i) {
        if (lower(static_cast<unsigned char>(text[i])) != kScheme[i]) {
            return false;
        }
    }
    return true;
}

bool looks_like_pin_value(std::string_view segment) noexcept {
    std::size_t i = 0;
    while (i < segment.size() && is_space(segment[i])) {
        ++i;
    }
    // Lower-case, percent-decoded copy of the first few name bytes.
    std::array<char, 9> head{};
    std::size_t n = 0;
    while (i < segment.size() && n < head.size()) {
        auto c = static_cast<unsigned char>(segment[i]);
        if (c == '%' && i + 2 < segment.size() &&
            is_hex(static_cast<unsigned char>(segment[i + 1])) &&
            is_hex(static_cast<unsigned char>(segment[i + 2]))) {
            c = static_cast<unsigned char>(hex_value(static_cast<unsigned char>(segment[i + 1])) *
                                               16U +
                                           hex_value(static_cast<unsigned char>(segment[i + 2])));
            i += 3;
        } else {
            ++i;
        }
        head.at(n++) = lower(c);
    }
    const std::string_view name{head.data(), n};
    return name.starts_with("pin-value") || name.starts_with("pin_value") ||
           name.starts_with("pinvalue");
}

bool may_hold_pin(std::string_view segment) noexcept {
    for (std::size_t i = 0; i < segment.size(); ++i) {
        if ((i == 0 || is_boundary(segment[i - 1])) && looks_like_pin_value(segment.substr(i))) {
            return true;
        }
    }
    return false;
}

std::string echo_input(std::string_view text) {
    const std::size_t question = text.find('?');
    std::string out;
    std::size_t i = 0;
    while (i < text.size()) {
        if (out.size() >= kEchoMax) {
            out += "...";
            break;
        }
        const bool at_boundary = i == 0 || is_boundary(text[i - 1]);
        if (at_boundary && looks_like_pin_value(text.substr(i))) {
            // Hide everything up to the separator of the component the PIN sits in. In the
            // query that is "&" (";" is not even allowed there); in the path it is ";" — a "?"
            // may be part of a mistyped PIN, so the path mask runs past it.
            const bool in_query = question != std::string_view::npos && i > question;
            const std::size_t end = text.find(in_query ? '&' : ';', i);
            out += kMasked;
            i = end == std::string_view::npos ? text.size() : end;
            continue;
        }
        append_escaped(out, static_cast<unsigned char>(text[i]));
        ++i;
    }
    return out;
}

} // namespace hsmp::uri::detail
