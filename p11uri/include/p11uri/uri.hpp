// RFC 7512 "pkcs11:" URIs as a value type: parse, format, match.
//
// This library sits at the bottom of the layer graph (STYLE.md section 1): it knows nothing of
// OpenSSL or of a loaded PKCS#11 module. Token and object properties come in as plain strings
// and bytes, already read from the module by the caller.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hsmp::uri {

/// Values of the `type` path attribute, i.e. the CKO_* object class a URI names.
enum class ObjectType : std::uint8_t {
    Public,    ///< "public"     (CKO_PUBLIC_KEY)
    Private,   ///< "private"    (CKO_PRIVATE_KEY)
    Cert,      ///< "cert"       (CKO_CERTIFICATE)
    SecretKey, ///< "secret-key" (CKO_SECRET_KEY)
    Data,      ///< "data"       (CKO_DATA)
};

/// `library-version`: "major[.minor]", each part a decimal that fits a byte (CK_VERSION).
/// A version written without a minor part has minor 0 and is formatted back as "major.0".
struct Version {
    std::uint8_t major = 0;
    std::uint8_t minor = 0;
    bool operator==(const Version&) const = default;
};

/// A parsed URI. Every standard attribute is optional: std::nullopt means absent (matches
/// anything), an empty string or empty id means present-but-empty (matches only empty).
/// String values hold the percent-decoded bytes and may contain any byte, including NUL.
///
/// Uri is an aggregate: `Uri{.object = "tls", .type = ObjectType::Private}` works, and every
/// member has a default initialiser so that such partial initialisers stay free of
/// -Wmissing-field-initializers. Copy and move are the implicit ones.
/// Because of the user-declared destructor a move is a copy, so a moved-from Uri still holds
/// its pin_value until it is destroyed, when it is wiped.
// Declaring copy/move members would end aggregate initialisation, hence the NOLINT.
struct Uri { // NOLINT(cppcoreguidelines-special-member-functions)
    // Path attributes.
    std::optional<std::string> token{};                ///< CK_TOKEN_INFO.label
    std::optional<std::string> manufacturer{};         ///< CK_TOKEN_INFO.manufacturerID
    std::optional<std::string> serial{};               ///< CK_TOKEN_INFO.serialNumber
    std::optional<std::string> model{};                ///< CK_TOKEN_INFO.model
    std::optional<std::string> library_manufacturer{}; ///< CK_INFO.manufacturerID
    std::optional<std::string> library_description{};  ///< CK_INFO.libraryDescription
    std::optional<Version> library_version{};          ///< CK_INFO.libraryVersion
    std::optional<std::string> object{};               ///< CKA_LABEL
    std::optional<ObjectType> type{};                  ///< CKA_CLASS
    std::optional<std::vector<std::uint8_t>> id{};     ///< CKA_ID, raw bytes (%00 allowed)
    std::optional<std::string> slot_description{};     ///< CK_SLOT_INFO.slotDescription
    std::optional<std::string> slot_manufacturer{};    ///< CK_SLOT_INFO.manufacturerID
    std::optional<std::uint64_t> slot_id{};            ///< CK_SLOT_ID, decimal in the URI

    // Query attributes.
    std::optional<std::string> pin_source{}; ///< where to read the PIN from (e.g. "file:/x")
    std::optional<std::string> pin_value{};  ///< the PIN itself: a secret, wiped on destruction
    std::optional<std::string> module_name{};
    std::optional<std::string> module_path{};

    /// Vendor attributes (names starting "x-"), in the order seen, values decoded. A name
    /// appears at most once per component. Names are kept verbatim (without decoding: the
    /// grammar allows only ALPHA, DIGIT, "-" and "_" in them).
    std::vector<std::pair<std::string, std::string>> vendor_path{};
    std::vector<std::pair<std::string, std::string>> vendor_query{};

    bool operator==(const Uri&) const = default;

    /// Wipes pin_value (its whole buffer, not only the live characters) with explicit_bzero.
    ~Uri();
};

/// Which rule a malformed URI broke. The first problem from the left is reported.
enum class ParseErrorKind : std::uint8_t {
    BadScheme,          ///< does not start with "pkcs11:" (case-insensitive)
    BadEncoding,        ///< "%" not followed by two hex digits
    BadSyntax,          ///< a character outside the component's set, missing "=", empty attr
    DuplicateAttribute, ///< the same attribute twice in one component
    UnknownAttribute,   ///< a name that is neither standard nor "x-" vendor, or a query
                        ///< attribute in the path / path attribute in the query
    BadValue,           ///< type, library-version or slot-id value not of the allowed form
};

/// A parse failure. The message is one line, complete and safe to log: it never contains the
/// value of a pin-value attribute (replaced by "***", also in malformed input), control bytes
/// are shown as \xNN, and the echoed input is capped at 200 bytes.
struct ParseError {
    ParseErrorKind kind = ParseErrorKind::BadSyntax;
    std::size_t offset = 0; ///< byte offset into the input where the problem starts
    std::string message{};  ///< e.g. bad percent-encoding at offset 15 in "pkcs11:object=a%zz"
};

/// Outcome of parse(): exactly one of uri / error is meaningful.
struct ParseResult {
    std::optional<Uri> uri{};
    ParseError error{};
    explicit operator bool() const noexcept { return uri.has_value(); }
};

/// Options for the parse() overload. The defaults are the strict behaviour used everywhere in
/// the provider.
struct ParseOptions {
    /// RFC 7512 lets vendors use any attribute name that is not a standard one (its section
    /// 3.3 example uses "vendor-aaa"). By default only "x-" names are vendor attributes and any
    /// other unknown name is an error: since an absent attribute matches anything, accepting a
    /// typo such as "tokn=web" would silently widen the match to every token. When true, any
    /// well-formed non-standard name is kept as a vendor attribute. A Uri parsed this way may
    /// format to text that the strict parse() rejects.
    bool accept_any_vendor_name = false;
};

/// Parses `text` strictly (ParseOptions{}).
[[nodiscard]] ParseResult parse(std::string_view text);
/// Parses `text` with explicit options.
[[nodiscard]] ParseResult parse(std::string_view text, const ParseOptions& options);

/// Which attributes format() emits.
enum class Scope : std::uint8_t {
    Object, ///< everything
    Token,  ///< library-*, module-*, token, manufacturer, serial, model and slot-* only
    Module, ///< library-* and module-* only
};

/// Whether format() emits the PIN-related query attributes.
enum class Redact : std::uint8_t {
    No,  ///< emit pin-value and pin-source
    Yes, ///< drop pin-value and pin-source
};

/// Canonical text for `uri`: lowercase "pkcs11:" scheme, attributes in a fixed order (path:
/// library-manufacturer, library-description, library-version, manufacturer, model, serial,
/// token, slot-manufacturer, slot-description, slot-id, object, type, id, vendor path attrs in
/// stored order; query: pin-source, pin-value, module-name, module-path, vendor query attrs),
/// minimal escaping (a byte is literal iff the component's grammar allows it, otherwise %XX in
/// uppercase), `id` always fully %XX-encoded, no "?" when the query is empty.
/// For every Uri whose vendor names pass is_vendor_name, parse(format(u)) == u and
/// format(parse(format(u))) == format(u). Other vendor names made of ALPHA, DIGIT, "-", "_"
/// (kept by ParseOptions::accept_any_vendor_name) are written too and round-trip with that
/// option; a vendor name with any other byte, or equal to a standard name, cannot be written
/// and is left out. Vendor query attributes are not affected by Redact.
/// With Redact::No the result contains the PIN: never log it; use format_redacted().
[[nodiscard]] std::string format(const Uri& uri, Scope scope = Scope::Object,
                                 Redact redact = Redact::No);

/// format(uri, Scope::Object, Redact::Yes): the only form to put into logs, errors and audit.
[[nodiscard]] std::string format_redacted(const Uri& uri);

/// "public", "private", "cert", "secret-key" or "data".
[[nodiscard]] std::string_view type_name(ObjectType t) noexcept;

/// Inverse of type_name (exact, case-sensitive); nullopt for anything else.
[[nodiscard]] std::optional<ObjectType> type_from_name(std::string_view name) noexcept;

/// Short name of an error kind ("bad-scheme", "bad-encoding", "bad-syntax",
/// "duplicate-attribute", "unknown-attribute", "bad-value"), for tests and diagnostics.
[[nodiscard]] std::string_view kind_name(ParseErrorKind kind) noexcept;

/// True iff `name` is writable as a vendor attribute name in strict mode: "x-" (or "X-")
/// followed by one or more of ALPHA, DIGIT, "-", "_".
[[nodiscard]] bool is_vendor_name(std::string_view name) noexcept;

// Matching (RFC 7512 section 4): an absent attribute matches anything; a present one must be
// byte-equal to the token's value (after the caller removed the blank padding, see
// trim_padded). Each overload looks only at its own attributes, so a lookup calls them in turn
// (module, slot, token, object). A URI with vendor path attributes matches nothing: they
// constrain the match in a way this library cannot check, and failing closed is the safe
// reading. Query attributes (module-name, module-path, pin-*) are not matched here.

/// CK_INFO of a module, with the blank padding removed.
struct ModuleInfo {
    std::string library_manufacturer{}, library_description{};
    Version library_version{};
};
/// CK_SLOT_INFO plus the slot's id, with the blank padding removed.
struct SlotInfo {
    std::string slot_description{}, slot_manufacturer{};
    std::uint64_t slot_id = 0;
};
/// CK_TOKEN_INFO, with the blank padding removed. `token` is the label.
struct TokenInfo {
    std::string token{}, manufacturer{}, serial{}, model{};
};
/// What is known of an object. An attribute the object lacks (nullopt) fails any URI that
/// names it: a URI asking for id=%01 must not match an object whose CKA_ID could not be read.
struct ObjectInfo {
    std::optional<ObjectType> type{};
    std::optional<std::string> label{};
    std::optional<std::vector<std::uint8_t>> id{};
};

/// library-manufacturer, library-description, library-version (major and minor).
[[nodiscard]] bool matches(const Uri& uri, const ModuleInfo& info) noexcept;
/// slot-description, slot-manufacturer, slot-id.
[[nodiscard]] bool matches(const Uri& uri, const SlotInfo& info) noexcept;
/// token, manufacturer, serial, model.
[[nodiscard]] bool matches(const Uri& uri, const TokenInfo& info) noexcept;
/// type, object (label), id. A URI attr present but the object lacks it => no match.
[[nodiscard]] bool matches(const Uri& uri, const ObjectInfo& info) noexcept;

/// A blank-padded fixed-width PKCS#11 string (CK_TOKEN_INFO.label etc.) without its trailing
/// padding. Trailing NUL bytes are removed as well: some modules pad with NUL instead of
/// blanks. Just bytes, no PKCS#11 types. `field` may be null when `width` is 0.
[[nodiscard]] std::string trim_padded(const unsigned char* field, std::size_t width);

} // namespace hsmp::uri
