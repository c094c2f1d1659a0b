// Uri lifetime and the small name tables.
#include "p11uri/uri.hpp"

#include "grammar.hpp"

#include <algorithm>
#include <cstring> // explicit_bzero (glibc)

namespace hsmp::uri {

Uri::~Uri() {
    if (pin_value) {
        // Wipe the whole buffer: after a move or a shrink the live size can be smaller than
        // what still holds PIN bytes. resize() makes every byte up to capacity addressable
        // (and zeroes the tail); explicit_bzero then clears it in a way the optimiser keeps.
        std::string& pin = *pin_value;
        pin.resize(pin.capacity());
        explicit_bzero(pin.data(), pin.size());
    }
}

std::string_view type_name(ObjectType t) noexcept {
    switch (t) {
    case ObjectType::Public:
        return "public";
    case ObjectType::Private:
        return "private";
    case ObjectType::Cert:
        return "cert";
    case ObjectType::SecretKey:
        return "secret-key";
    case ObjectType::Data:
        return "data";
    }
    return "unknown";
}

std::optional<ObjectType> type_from_name(std::string_view name) noexcept {
    for (const ObjectType t : {ObjectType::Public, ObjectType::Private, ObjectType::Cert,
                               ObjectType::SecretKey, ObjectType::Data}) {
        if (type_name(t) == name) {
            return t;
        }
    }
    return std::nullopt;
}

std::string_view kind_name(ParseErrorKind kind) noexcept {
    switch (kind) {
    case ParseErrorKind::BadScheme:
        return "bad-scheme";
    case ParseErrorKind::BadEncoding:
        return "bad-encoding";
    case ParseErrorKind::BadSyntax:
        return "bad-syntax";
    case ParseErrorKind::DuplicateAttribute:
        return "duplicate-attribute";
    case ParseErrorKind::UnknownAttribute:
        return "unknown-attribute";
    case ParseErrorKind::BadValue:
        return "bad-value";
    }
    return "unknown";
}

bool is_vendor_name(std::string_view name) noexcept {
    if (name.size() < 3 || (name[0] != 'x' && name[0] != 'X') || name[1] != '-') {
        return false;
    }
    return std::ranges::all_of(
        name, [](char c) { return detail::is_name_char(static_cast<unsigned char>(c)); });
}

} // namespace hsmp::uri
