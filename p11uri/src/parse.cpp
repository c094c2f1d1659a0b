// RFC 7512 parser.
//
// Grammar (section 2.3), as implemented here:
//   uri   = "pkcs11:" path [ "?" query ]          scheme compared case-insensitively
//   path  = [ pattr *( ";" pattr ) ]              the first "?" ends the path
//   query = [ qattr *( "&" qattr ) ]
//   attr  = name "=" *value-char                  name: 1*( ALPHA / DIGIT / "-" / "_" )
// Value characters are pk11-pchar (path) or pk11-qchar (query), see grammar.hpp. The first
// problem from the left is reported; within one attribute the order is: name characters, "=",
// known name, duplicate, value characters and %-encoding, value form.
#include "grammar.hpp"
#include "p11uri/uri.hpp"
#include "redact.hpp"

#include <array>
#include <limits>

namespace hsmp::uri {
namespace {

using detail::Attr;
using detail::Component;

struct Failure {
    ParseErrorKind kind;
    std::size_t offset;
    std::string reason;
};
using Status = std::optional<Failure>; // nullopt = fine

std::string quoted_char(unsigned char c) {
    static constexpr std::string_view kHex = "0123456789ABCDEF";
    if (c > 0x20 && c < 0x7f && c != '\'' && c != '\\') {
        return std::string{'\'', static_cast<char>(c), '\''};
    }
    if (c == ' ') {
        return "' ' (whitespace)";
    }
    std::string out = "0x";
    out += kHex[c >> 4U];
    out += kHex[c & 0xFU];
    return out;
}

/// Names in reasons come from the input; they consist of name characters only, but can be long.
std::string quoted_name(std::string_view name) {
    constexpr std::size_t kMax = 64;
    std::string out = "\"";
    out += name.substr(0, kMax);
    if (name.size() > kMax) {
        out += "...";
    }
    out += '"';
    return out;
}

std::string_view component_name(Component c) {
    return c == Component::Path ? "path" : "query";
}

const detail::AttrSpec* find_standard(std::string_view name) {
    for (const auto& spec : detail::kAttrs) {
        if (spec.name == name) {
            return &spec;
        }
    }
    return nullptr;
}

/// Decimal digits only, value at most `max`. Leading zeros are accepted ("01" is 1).
template <typename T> std::optional<T> parse_decimal(std::string_view s, T max) {
    if (s.empty()) {
        return std::nullopt;
    }
    T value = 0;
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (!detail::is_digit(c)) {
            return std::nullopt;
        }
        const auto digit = static_cast<T>(c - '0');
        if (value > (max - digit) / 10) {
            return std::nullopt;
        }
        value = static_cast<T>(value * 10 + digit);
    }
    return value;
}

std::optional<Version> parse_version(std::string_view s) {
    const auto dot = s.find('.');
    const auto major = parse_decimal<unsigned>(s.substr(0, dot), 255);
    if (!major) {
        return std::nullopt;
    }
    Version v{static_cast<std::uint8_t>(*major), 0};
    if (dot != std::string_view::npos) {
        const auto minor = parse_decimal<unsigned>(s.substr(dot + 1), 255);
        if (!minor) {
            return std::nullopt;
        }
        v.minor = static_cast<std::uint8_t>(*minor);
    }
    return v;
}

class Parser {
public:
    Parser(std::string_view text, const ParseOptions& options) : m_text(text), m_options(options) {}

    Status run(Uri& out) {
        if (!detail::has_scheme(m_text)) {
            return Failure{ParseErrorKind::BadScheme, 0, "expected scheme \"pkcs11:\""};
        }
        const std::size_t path_begin = detail::kScheme.size();
        const std::size_t question = m_text.find('?', path_begin);
        const std::size_t path_end = question == std::string_view::npos ? m_text.size() : question;
        if (auto st = parse_component(Component::Path, path_begin, path_end, out)) {
            return st;
        }
        if (question != std::string_view::npos) {
            return parse_component(Component::Query, question + 1, m_text.size(), out);
        }
        return std::nullopt;
    }

private:
    /// [begin, end) is the component's text without its leading ":" or "?"; empty is valid.
    Status parse_component(Component where, std::size_t begin, std::size_t end, Uri& out) {
        if (begin == end) {
            return std::nullopt;
        }
        const char separator = where == Component::Path ? ';' : '&';
        std::size_t pos = begin;
        while (true) {
            std::size_t next = m_text.find(separator, pos);
            if (next == std::string_view::npos || next > end) {
                next = end;
            }
            if (auto st = parse_attribute(where, pos, next, out)) {
                return st;
            }
            if (next == end) {
                return std::nullopt;
            }
            pos = next + 1;
        }
    }

    Status parse_attribute(Component where, std::size_t begin, std::size_t end, Uri& out) {
        const std::string_view segment = m_text.substr(begin, end - begin);
        // Reasons for a segment that looks like a PIN never quote its content.
        m_secret = detail::may_hold_pin(segment);
        if (segment.empty()) {
            return Failure{ParseErrorKind::BadSyntax, begin,
                           std::string{"empty attribute in "} + std::string{component_name(where)}};
        }
        std::size_t eq = begin;
        while (eq < end && m_text[eq] != '=') {
            const auto c = static_cast<unsigned char>(m_text[eq]);
            if (!detail::is_name_char(c)) {
                return Failure{ParseErrorKind::BadSyntax, eq,
                               "invalid character " + char_text(c) + " in attribute name"};
            }
            ++eq;
        }
        if (eq == end) {
            return Failure{ParseErrorKind::BadSyntax, begin, "attribute without \"=\""};
        }
        if (eq == begin) {
            return Failure{ParseErrorKind::BadSyntax, begin, "empty attribute name"};
        }
        const std::string_view name = m_text.substr(begin, eq - begin);
        const Value value{eq + 1, end};
        if (const auto* spec = find_standard(name)) {
            if (spec->component != where) {
                return Failure{ParseErrorKind::UnknownAttribute, begin,
                               std::string{component_name(spec->component)} + " attribute " +
                                   quoted_name(name) + " in the " +
                                   std::string{component_name(where)}};
            }
            auto& seen = m_seen.at(static_cast<std::size_t>(spec->attr));
            if (seen) {
                return Failure{ParseErrorKind::DuplicateAttribute, begin,
                               "duplicate attribute " + quoted_name(name)};
            }
            seen = true;
            return store_standard(spec->attr, name, value, out);
        }
        if (!is_vendor_name(name) && !m_options.accept_any_vendor_name) {
            return Failure{ParseErrorKind::UnknownAttribute, begin,
                           "unknown attribute " +
                               (m_secret ? std::string{"(hidden)"} : quoted_name(name))};
        }
        auto& vendor = where == Component::Path ? out.vendor_path : out.vendor_query;
        for (const auto& [seen_name, seen_value] : vendor) {
            if (seen_name == name) {
                return Failure{ParseErrorKind::DuplicateAttribute, begin,
                               "duplicate attribute " + quoted_name(name)};
            }
        }
        std::string decoded;
        if (auto st = decode(where, value, decoded)) {
            return st;
        }
        vendor.emplace_back(std::string{name}, std::move(decoded));
        return std::nullopt;
    }

    struct Value {
        std::size_t begin, end;
    };

    Status store_standard(Attr attr, std::string_view name, Value value, Uri& out) {
        switch (attr) {
        case Attr::Token:
            return decode_into(Component::Path, value, out.token);
        case Attr::Manufacturer:
            return decode_into(Component::Path, value, out.manufacturer);
        case Attr::Serial:
            return decode_into(Component::Path, value, out.serial);
        case Attr::Model:
            return decode_into(Component::Path, value, out.model);
        case Attr::LibraryManufacturer:
            return decode_into(Component::Path, value, out.library_manufacturer);
        case Attr::LibraryDescription:
            return decode_into(Component::Path, value, out.library_description);
        case Attr::Object:
            return decode_into(Component::Path, value, out.object);
        case Attr::SlotDescription:
            return decode_into(Component::Path, value, out.slot_description);
        case Attr::SlotManufacturer:
            return decode_into(Component::Path, value, out.slot_manufacturer);
        case Attr::PinSource:
            return decode_into(Component::Query, value, out.pin_source);
        case Attr::PinValue:
            return decode_into(Component::Query, value, out.pin_value);
        case Attr::ModuleName:
            return decode_into(Component::Query, value, out.module_name);
        case Attr::ModulePath:
            return decode_into(Component::Query, value, out.module_path);
        case Attr::Id: {
            std::string bytes;
            if (auto st = decode(Component::Path, value, bytes)) {
                return st;
            }
            out.id.emplace(bytes.begin(), bytes.end());
            return std::nullopt;
        }
        case Attr::Type:
        case Attr::LibraryVersion:
        case Attr::SlotId:
            return store_typed(attr, name, value, out);
        }
        return std::nullopt;
    }

    /// The attributes whose decoded value must have a particular form.
    Status store_typed(Attr attr, std::string_view name, Value value, Uri& out) {
        std::string text;
        if (auto st = decode(Component::Path, value, text)) {
            return st;
        }
        const auto bad = [&](std::string_view expected) {
            return Failure{ParseErrorKind::BadValue, value.begin,
                           "bad value for " + quoted_name(name) + " (expected " +
                               std::string{expected} + ")"};
        };
        if (attr == Attr::Type) {
            out.type = type_from_name(text);
            if (!out.type) {
                return bad("public, private, cert, secret-key or data");
            }
        } else if (attr == Attr::LibraryVersion) {
            out.library_version = parse_version(text);
            if (!out.library_version) {
                return bad("major[.minor], each 0-255");
            }
        } else {
            out.slot_id =
                parse_decimal<std::uint64_t>(text, std::numeric_limits<std::uint64_t>::max());
            if (!out.slot_id) {
                return bad("a decimal number below 2^64");
            }
        }
        return std::nullopt;
    }

    Status decode_into(Component where, Value value, std::optional<std::string>& field) {
        // Decoding in place, into a buffer reserved once, leaves no stray copies of a PIN.
        std::string& target = field.emplace();
        target.reserve(value.end - value.begin);
        return decode(where, value, target);
    }

    /// Checks the value's characters and percent-decodes them, appending to `out`.
    Status decode(Component where, Value value, std::string& out) {
        for (std::size_t i = value.begin; i < value.end; ++i) {
            const auto c = static_cast<unsigned char>(m_text[i]);
            if (c == '%') {
                if (i + 2 >= value.end) {
                    return bad_encoding(i);
                }
                const auto hi = static_cast<unsigned char>(m_text[i + 1]);
                const auto lo = static_cast<unsigned char>(m_text[i + 2]);
                if (!detail::is_hex(hi) || !detail::is_hex(lo)) {
                    return bad_encoding(i);
                }
                out += static_cast<char>(detail::hex_value(hi) * 16U + detail::hex_value(lo));
                i += 2;
                continue;
            }
            if (!detail::is_value_char(where, c)) {
                return Failure{ParseErrorKind::BadSyntax, i,
                               "invalid character " + char_text(c) + " in " +
                                   std::string{component_name(where)} + " value"};
            }
            out += static_cast<char>(c);
        }
        return std::nullopt;
    }

    static Failure bad_encoding(std::size_t offset) {
        return Failure{ParseErrorKind::BadEncoding, offset, "bad percent-encoding"};
    }

    [[nodiscard]] std::string char_text(unsigned char c) const {
        return m_secret ? std::string{"(hidden)"} : quoted_char(c);
    }

    std::string_view m_text;
    const ParseOptions& m_options;
    std::array<bool, detail::kAttrCount> m_seen{};
    bool m_secret = false;
};

} // namespace

ParseResult parse(std::string_view text) {
    return parse(text, ParseOptions{});
}

ParseResult parse(std::string_view text, const ParseOptions& options) {
    ParseResult result;
    Uri uri;
    Parser parser{text, options};
    if (auto failure = parser.run(uri)) {
        result.error.kind = failure->kind;
        result.error.offset = failure->offset;
        result.error.message = failure->reason + " at offset " + std::to_string(failure->offset) +
                               " in \"" + detail::echo_input(text) + "\"";
        return result;
    }
    result.uri.emplace(std::move(uri));
    return result;
}

} // namespace hsmp::uri
