// libFuzzer target for the pkcs11: URI library.
//
// Beyond "does not crash" (the sanitizers catch memory and UB errors), every input checks the
// properties callers rely on, and abort()s when one fails:
//   - a parse failure has an offset inside the input and a bounded, one-line, escaped message;
//   - a parsed URI formats to text that parses back to an equal Uri, and formatting that again
//     gives the same text;
//   - format_redacted() carries no PIN (see check_redaction for why this is not a plain
//     substring search);
//   - narrower scopes parse back to the right subset;
//   - a URI matches the module/slot/token/object described by its own attribute values.
// Both the strict parser and the permissive vendor-name option are exercised.
#include "p11uri/uri.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace hsmp::uri;

void require(bool ok, const char* what, std::string_view context) {
    if (!ok) {
        // Context is format_redacted() output or a parse error message: safe to print.
        std::fprintf(stderr, "uri_fuzz: property failed: %s\n  %.*s\n", what,
                     static_cast<int>(context.size()), context.data());
        std::abort();
    }
}

void check_error(std::string_view input, const ParseResult& r) {
    const ParseError& e = r.error;
    require(!r.uri.has_value(), "failure without uri", e.message);
    require(e.offset <= input.size(), "offset inside input", e.message);
    require(!e.message.empty(), "message present", e.message);
    require(e.message.size() < 1024, "message bounded", e.message.substr(0, 200));
    for (const char c : e.message) {
        const auto b = static_cast<unsigned char>(c);
        require(b >= 0x20 && b < 0x7f, "message is printable one-line ASCII", e.message);
    }
    require(e.message.find(" at offset " + std::to_string(e.offset) + " in \"") !=
                std::string::npos,
            "message locates the problem", e.message);
}

void check_round_trip(const Uri& u, const ParseOptions& options) {
    const std::string text = format(u);
    const ParseResult again = parse(text, options);
    require(again.uri.has_value(), "canonical text parses", again.error.message);
    require(*again.uri == u, "parse(format(u)) == u", format_redacted(u));
    require(format(*again.uri) == text, "format is a fixed point", format_redacted(u));
}

// A plain "the PIN does not occur in the redacted text" check is unsound: a PIN "1234" also
// occurs in "slot-id=12345" or "token=a1234", and that is not a leak. What redaction must
// guarantee is that the redacted text does not depend on the PIN at all (non-interference),
// that it carries no pin attribute, and that it keeps everything else. Those three are
// checked exactly; the substring check then only runs where it cannot misfire.
void check_redaction(const Uri& u, const ParseOptions& options) {
    const std::string redacted = format_redacted(u);
    const ParseResult back = parse(redacted, options);
    require(back.uri.has_value(), "redacted text parses", back.error.message);
    require(!back.uri->pin_value && !back.uri->pin_source, "no pin attribute after redaction",
            redacted);

    Uri without_pin = u;
    without_pin.pin_value.reset();
    without_pin.pin_source.reset();
    require(*back.uri == without_pin, "redaction keeps everything else", redacted);

    Uri other_pin = u;
    other_pin.pin_value = u.pin_value ? *u.pin_value + "\x01-other" : std::string{"0000"};
    other_pin.pin_source = u.pin_source ? std::nullopt : std::optional<std::string>{"file:/p"};
    require(format_redacted(other_pin) == redacted, "redacted text independent of the PIN",
            redacted);

    if (u.pin_value && u.pin_value->size() >= 4) {
        const std::string& pin = *u.pin_value;
        const std::string unredacted = format(u);
        // Only when the PIN's text appears nowhere in the PIN-free rendering is its presence
        // in the redacted text a leak.
        if (format(without_pin).find(pin) == std::string::npos) {
            require(redacted.find(pin) == std::string::npos, "PIN text absent", redacted);
        }
        require(unredacted.find("pin-value=") != std::string::npos, "unredacted keeps the PIN",
                redacted);
    }
}

void check_scopes(const Uri& u, const ParseOptions& options) {
    const ParseResult token = parse(format(u, Scope::Token), options);
    require(token.uri.has_value(), "token scope parses", token.error.message);
    const Uri& t = *token.uri;
    require(t.token == u.token && t.serial == u.serial && t.slot_id == u.slot_id &&
                t.library_version == u.library_version && t.module_path == u.module_path,
            "token scope keeps token attributes", format_redacted(u));
    require(!t.object && !t.type && !t.id && !t.pin_value && !t.pin_source &&
                t.vendor_path.empty() && t.vendor_query.empty(),
            "token scope drops object attributes", format_redacted(u));

    const ParseResult module = parse(format(u, Scope::Module), options);
    require(module.uri.has_value(), "module scope parses", module.error.message);
    const Uri& m = *module.uri;
    require(m.library_manufacturer == u.library_manufacturer && m.module_name == u.module_name,
            "module scope keeps module attributes", format_redacted(u));
    require(!m.token && !m.manufacturer && !m.slot_id && !m.slot_description && !m.object,
            "module scope drops token attributes", format_redacted(u));
}

void check_self_match(const Uri& u) {
    const ModuleInfo module{u.library_manufacturer.value_or(""), u.library_description.value_or(""),
                            u.library_version.value_or(Version{})};
    const SlotInfo slot{u.slot_description.value_or(""), u.slot_manufacturer.value_or(""),
                        u.slot_id.value_or(0)};
    const TokenInfo token{u.token.value_or(""), u.manufacturer.value_or(""), u.serial.value_or(""),
                          u.model.value_or("")};
    const ObjectInfo object{u.type, u.object, u.id};
    const bool expected = u.vendor_path.empty(); // vendor path attributes fail closed
    require(matches(u, module) == expected, "matches own module", format_redacted(u));
    require(matches(u, slot) == expected, "matches own slot", format_redacted(u));
    require(matches(u, token) == expected, "matches own token", format_redacted(u));
    require(matches(u, object) == expected, "matches own object", format_redacted(u));
    require(matches(Uri{}, object) && matches(Uri{}, token), "empty URI matches anything",
            format_redacted(u));
}

void check(std::string_view input, const ParseOptions& options) {
    const ParseResult r = parse(input, options);
    if (!r) {
        check_error(input, r);
        return;
    }
    const Uri& u = *r.uri;
    check_round_trip(u, options);
    check_redaction(u, options);
    check_scopes(u, options);
    check_self_match(u);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input{reinterpret_cast<const char*>(data), size};
    check(input, ParseOptions{});
    check(input, ParseOptions{.accept_any_vendor_name = true});
    return 0;
}
