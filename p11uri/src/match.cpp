// RFC 7512 section 4 matching: absent attributes match anything, present ones must be equal.
#include "p11uri/uri.hpp"

namespace hsmp::uri {
namespace {

/// Absent in the URI: matches anything. Present: byte-equal, so "" matches only "".
template <typename T> bool attr_matches(const std::optional<T>& wanted, const T& actual) {
    return !wanted || *wanted == actual;
}

/// As attr_matches, but the object may not have the attribute at all (it could not be read,
/// or the object class has none); a URI that asks for it then does not match.
template <typename T>
bool attr_matches(const std::optional<T>& wanted, const std::optional<T>& actual) {
    return !wanted || (actual && *wanted == *actual);
}

/// A vendor path attribute is a constraint nothing here can evaluate: fail closed.
bool evaluable(const Uri& uri) noexcept {
    return uri.vendor_path.empty();
}

} // namespace

bool matches(const Uri& uri, const ModuleInfo& info) noexcept {
    return evaluable(uri) && attr_matches(uri.library_manufacturer, info.library_manufacturer) &&
           attr_matches(uri.library_description, info.library_description) &&
           attr_matches(uri.library_version, info.library_version);
}

bool matches(const Uri& uri, const SlotInfo& info) noexcept {
    return evaluable(uri) && attr_matches(uri.slot_description, info.slot_description) &&
           attr_matches(uri.slot_manufacturer, info.slot_manufacturer) &&
           attr_matches(uri.slot_id, info.slot_id);
}

bool matches(const Uri& uri, const TokenInfo& info) noexcept {
    return evaluable(uri) && attr_matches(uri.token, info.token) &&
           attr_matches(uri.manufacturer, info.manufacturer) &&
           attr_matches(uri.serial, info.serial) && attr_matches(uri.model, info.model);
}

bool matches(const Uri& uri, const ObjectInfo& info) noexcept {
    return evaluable(uri) && attr_matches(uri.type, info.type) &&
           attr_matches(uri.object, info.label) && attr_matches(uri.id, info.id);
}

std::string trim_padded(const unsigned char* field, std::size_t width) {
    if (field == nullptr) {
        return {};
    }
    std::size_t n = width;
    while (n > 0 && (field[n - 1] == ' ' || field[n - 1] == '\0')) {
        --n;
    }
    return {reinterpret_cast<const char*>(field), n};
}

} // namespace hsmp::uri
