// Canonical RFC 7512 text for a Uri.
#include "grammar.hpp"
#include "p11uri/uri.hpp"

#include <algorithm>

namespace hsmp::uri {
namespace {

using detail::Attr;
using detail::Component;

bool in_scope(Attr attr, Scope scope) {
    switch (attr) {
    case Attr::LibraryManufacturer:
    case Attr::LibraryDescription:
    case Attr::LibraryVersion:
    case Attr::ModuleName:
    case Attr::ModulePath:
        return true;
    case Attr::Manufacturer:
    case Attr::Model:
    case Attr::Serial:
    case Attr::Token:
    case Attr::SlotManufacturer:
    case Attr::SlotDescription:
    case Attr::SlotId:
        return scope != Scope::Module;
    case Attr::Object:
    case Attr::Type:
    case Attr::Id:
    case Attr::PinSource:
    case Attr::PinValue:
        return scope == Scope::Object;
    }
    return false;
}

/// A vendor name format() can write: it must survive parsing as a vendor attribute, so it is
/// made of name characters only and is not a standard name. (The strict parser further wants
/// the "x-" prefix; see ParseOptions.)
bool writable_vendor_name(std::string_view name) {
    const auto name_char = [](char c) {
        return detail::is_name_char(static_cast<unsigned char>(c));
    };
    const auto standard = [name](const detail::AttrSpec& spec) { return spec.name == name; };
    return !name.empty() && std::ranges::all_of(name, name_char) &&
           std::ranges::none_of(detail::kAttrs, standard);
}

class Writer {
public:
    explicit Writer(std::size_t capacity) {
        // One allocation up front: with Redact::No the output holds the PIN, and growing the
        // string would leave copies of it in freed memory.
        m_out.reserve(capacity);
        m_out.append(detail::kScheme);
    }

    void attr(Component where, std::string_view name) {
        if (where == Component::Path) {
            if (m_path_started) {
                m_out += ';';
            }
            m_path_started = true;
        } else {
            m_out += m_query_started ? '&' : '?';
            m_query_started = true;
        }
        m_out += name;
        m_out += '=';
    }

    /// Minimal escaping: literal iff the component's grammar allows the byte literally.
    void text(Component where, std::string_view value) {
        for (const char ch : value) {
            const auto c = static_cast<unsigned char>(ch);
            if (detail::is_value_char(where, c)) {
                m_out += ch;
            } else {
                pct(c);
            }
        }
    }

    /// id is written fully %XX-encoded, the canonical form p11-kit also uses.
    void bytes(const std::vector<std::uint8_t>& value) {
        for (const std::uint8_t b : value) {
            pct(b);
        }
    }

    std::string take() { return std::move(m_out); }

private:
    void pct(unsigned char c) {
        static constexpr std::string_view kHex = "0123456789ABCDEF";
        m_out += '%';
        m_out += kHex[c >> 4U];
        m_out += kHex[c & 0xFU];
    }

    std::string m_out;
    bool m_path_started = false;
    bool m_query_started = false;
};

void write_opt(Writer& w, Component where, std::string_view name,
               const std::optional<std::string>& value) {
    if (value) {
        w.attr(where, name);
        w.text(where, *value);
    }
}

void write_standard(Writer& w, Attr attr, std::string_view name, const Uri& u) {
    constexpr auto P = Component::Path;
    constexpr auto Q = Component::Query;
    switch (attr) {
    case Attr::LibraryManufacturer:
        return write_opt(w, P, name, u.library_manufacturer);
    case Attr::LibraryDescription:
        return write_opt(w, P, name, u.library_description);
    case Attr::LibraryVersion:
        if (u.library_version) {
            w.attr(P, name);
            w.text(P, std::to_string(u.library_version->major) + "." +
                          std::to_string(u.library_version->minor));
        }
        return;
    case Attr::Manufacturer:
        return write_opt(w, P, name, u.manufacturer);
    case Attr::Model:
        return write_opt(w, P, name, u.model);
    case Attr::Serial:
        return write_opt(w, P, name, u.serial);
    case Attr::Token:
        return write_opt(w, P, name, u.token);
    case Attr::SlotManufacturer:
        return write_opt(w, P, name, u.slot_manufacturer);
    case Attr::SlotDescription:
        return write_opt(w, P, name, u.slot_description);
    case Attr::SlotId:
        if (u.slot_id) {
            w.attr(P, name);
            w.text(P, std::to_string(*u.slot_id));
        }
        return;
    case Attr::Object:
        return write_opt(w, P, name, u.object);
    case Attr::Type:
        if (u.type) {
            w.attr(P, name);
            w.text(P, type_name(*u.type));
        }
        return;
    case Attr::Id:
        if (u.id) {
            w.attr(P, name);
            w.bytes(*u.id);
        }
        return;
    case Attr::PinSource:
        return write_opt(w, Q, name, u.pin_source);
    case Attr::PinValue:
        return write_opt(w, Q, name, u.pin_value);
    case Attr::ModuleName:
        return write_opt(w, Q, name, u.module_name);
    case Attr::ModulePath:
        return write_opt(w, Q, name, u.module_path);
    }
}

void write_vendor(Writer& w, Component where,
                  const std::vector<std::pair<std::string, std::string>>& attrs) {
    for (const auto& [name, value] : attrs) {
        if (writable_vendor_name(name)) {
            w.attr(where, name);
            w.text(where, value);
        }
    }
}

/// An upper bound of the output size: every value byte may need three characters.
std::size_t worst_case_size(const Uri& u) {
    std::size_t n = 64;
    const auto add = [&n](const std::optional<std::string>& v) { n += v ? 32 + 3 * v->size() : 0; };
    for (const auto* v :
         {&u.token, &u.manufacturer, &u.serial, &u.model, &u.library_manufacturer,
          &u.library_description, &u.object, &u.slot_description, &u.slot_manufacturer,
          &u.pin_source, &u.pin_value, &u.module_name, &u.module_path}) {
        add(*v);
    }
    n += std::size_t{3} * 32 + (u.id ? 32 + 3 * u.id->size() : 0);
    for (const auto* list : {&u.vendor_path, &u.vendor_query}) {
        for (const auto& [name, value] : *list) {
            n += 2 + name.size() + 3 * value.size();
        }
    }
    return n;
}

} // namespace

std::string format(const Uri& uri, Scope scope, Redact redact) {
    Writer w{worst_case_size(uri)};
    const auto write_component = [&](Component where) {
        for (const auto& spec : detail::kAttrs) {
            if (spec.component != where || !in_scope(spec.attr, scope)) {
                continue;
            }
            if (redact == Redact::Yes &&
                (spec.attr == Attr::PinValue || spec.attr == Attr::PinSource)) {
                continue;
            }
            write_standard(w, spec.attr, spec.name, uri);
        }
        if (scope == Scope::Object) {
            write_vendor(w, where, where == Component::Path ? uri.vendor_path : uri.vendor_query);
        }
    };
    write_component(Component::Path);
    write_component(Component::Query);
    return w.take();
}

std::string format_redacted(const Uri& uri) {
    return format(uri, Scope::Object, Redact::Yes);
}

} // namespace hsmp::uri
