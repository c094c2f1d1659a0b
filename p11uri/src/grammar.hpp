// Character classes and attribute names of the RFC 7512 grammar (section 2.3), shared by the
// parser and the formatter so that what one writes literally the other accepts literally.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace hsmp::uri::detail {

enum class Component : std::uint8_t { Path, Query };

constexpr bool is_alpha(unsigned char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
constexpr bool is_digit(unsigned char c) noexcept {
    return c >= '0' && c <= '9';
}
constexpr bool is_hex(unsigned char c) noexcept {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
constexpr unsigned hex_value(unsigned char c) noexcept {
    if (is_digit(c)) {
        return static_cast<unsigned>(c - '0');
    }
    if (c >= 'a' && c <= 'f') {
        return static_cast<unsigned>(c - 'a' + 10);
    }
    return static_cast<unsigned>(c - 'A' + 10);
}

/// RFC 3986 unreserved.
constexpr bool is_unreserved(unsigned char c) noexcept {
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/// Reserved characters both components may carry literally in a value.
constexpr bool is_res_avail(unsigned char c) noexcept {
    return std::string_view{":[]@!$'()*+,="}.find(static_cast<char>(c)) != std::string_view::npos;
}

/// pk11-pchar minus pct-encoded: "&" is literal in the path, ";" and "?" delimit it.
constexpr bool is_path_char(unsigned char c) noexcept {
    return is_unreserved(c) || is_res_avail(c) || c == '&';
}

/// pk11-qchar minus pct-encoded: "/", "?" and "|" are literal in the query, "&" delimits it.
constexpr bool is_query_char(unsigned char c) noexcept {
    return is_unreserved(c) || is_res_avail(c) || c == '/' || c == '?' || c == '|';
}

constexpr bool is_value_char(Component where, unsigned char c) noexcept {
    return where == Component::Path ? is_path_char(c) : is_query_char(c);
}

/// pk11-v-attr-nm-char; every standard name is made of these too.
constexpr bool is_name_char(unsigned char c) noexcept {
    return is_alpha(c) || is_digit(c) || c == '-' || c == '_';
}

/// The standard attributes. The enumerator order is the canonical output order within each
/// component (format.cpp relies on it).
enum class Attr : std::uint8_t {
    LibraryManufacturer,
    LibraryDescription,
    LibraryVersion,
    Manufacturer,
    Model,
    Serial,
    Token,
    SlotManufacturer,
    SlotDescription,
    SlotId,
    Object,
    Type,
    Id,
    PinSource,
    PinValue,
    ModuleName,
    ModulePath,
};
inline constexpr std::size_t kAttrCount = 17;

struct AttrSpec {
    Attr attr;
    std::string_view name;
    Component component;
};

inline constexpr std::array<AttrSpec, kAttrCount> kAttrs{{
    {Attr::LibraryManufacturer, "library-manufacturer", Component::Path},
    {Attr::LibraryDescription, "library-description", Component::Path},
    {Attr::LibraryVersion, "library-version", Component::Path},
    {Attr::Manufacturer, "manufacturer", Component::Path},
    {Attr::Model, "model", Component::Path},
    {Attr::Serial, "serial", Component::Path},
    {Attr::Token, "token", Component::Path},
    {Attr::SlotManufacturer, "slot-manufacturer", Component::Path},
    {Attr::SlotDescription, "slot-description", Component::Path},
    {Attr::SlotId, "slot-id", Component::Path},
    {Attr::Object, "object", Component::Path},
    {Attr::Type, "type", Component::Path},
    {Attr::Id, "id", Component::Path},
    {Attr::PinSource, "pin-source", Component::Query},
    {Attr::PinValue, "pin-value", Component::Query},
    {Attr::ModuleName, "module-name", Component::Query},
    {Attr::ModulePath, "module-path", Component::Query},
}};

inline constexpr std::string_view kScheme = "pkcs11:";
inline constexpr std::string_view kPinValueName = "pin-value";

} // namespace hsmp::uri::detail
