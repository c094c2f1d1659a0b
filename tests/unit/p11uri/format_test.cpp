// Canonical formatting: attribute order, minimal escaping, scopes and redaction.
#include "p11uri/uri.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace hsmp::uri {
namespace {

using namespace std::string_literals;
using Bytes = std::vector<std::uint8_t>;

Uri full_uri() {
    return Uri{.token = "tok",
               .manufacturer = "man",
               .serial = "ser",
               .model = "mod",
               .library_manufacturer = "lman",
               .library_description = "ldesc",
               .library_version = Version{2, 1},
               .object = "obj",
               .type = ObjectType::Private,
               .id = Bytes{0x01, 0xAB},
               .slot_description = "sdesc",
               .slot_manufacturer = "sman",
               .slot_id = 7U,
               .pin_source = "file:/pin",
               .pin_value = "s3cr3t-PIN",
               .module_name = "mname",
               .module_path = "/lib/m.so",
               .vendor_path = {{"x-p", "1"}},
               .vendor_query = {{"x-q", "2"}}};
}

TEST(Format, EmptyUri) {
    EXPECT_EQ(format(Uri{}), "pkcs11:");
}

TEST(Format, CanonicalOrderOfEverything) {
    EXPECT_EQ(format(full_uri()),
              "pkcs11:library-manufacturer=lman;library-description=ldesc;library-version=2.1;"
              "manufacturer=man;model=mod;serial=ser;token=tok;slot-manufacturer=sman;"
              "slot-description=sdesc;slot-id=7;object=obj;type=private;id=%01%AB;x-p=1"
              "?pin-source=file:/pin&pin-value=s3cr3t-PIN&module-name=mname&module-path=/lib/m.so"
              "&x-q=2");
}

TEST(Format, ReordersAndLowercasesScheme) {
    const ParseResult r = parse("PKCS11:type=cert;object=a;token=t?module-name=m&pin-source=p");
    ASSERT_TRUE(r) << r.error.message;
    EXPECT_EQ(format(*r.uri), "pkcs11:token=t;object=a;type=cert?pin-source=p&module-name=m");
}

TEST(Format, QueryOnly) {
    EXPECT_EQ(format(Uri{.module_path = "/m.so"}), "pkcs11:?module-path=/m.so");
}

TEST(Format, EmptyValuesArePresent) {
    EXPECT_EQ(format(Uri{.token = "", .id = Bytes{}, .pin_value = ""}),
              "pkcs11:token=;id=?pin-value=");
}

TEST(Format, VersionAlwaysHasMinor) {
    EXPECT_EQ(format(Uri{.library_version = Version{3, 0}}), "pkcs11:library-version=3.0");
}

TEST(Format, SlotIdDecimal) {
    EXPECT_EQ(format(Uri{.slot_id = 18446744073709551615ULL}),
              "pkcs11:slot-id=18446744073709551615");
}

TEST(Format, EveryTypeName) {
    EXPECT_EQ(format(Uri{.type = ObjectType::Public}), "pkcs11:type=public");
    EXPECT_EQ(format(Uri{.type = ObjectType::Private}), "pkcs11:type=private");
    EXPECT_EQ(format(Uri{.type = ObjectType::Cert}), "pkcs11:type=cert");
    EXPECT_EQ(format(Uri{.type = ObjectType::SecretKey}), "pkcs11:type=secret-key");
    EXPECT_EQ(format(Uri{.type = ObjectType::Data}), "pkcs11:type=data");
}

TEST(Format, TypeNamesRoundTrip) {
    for (const auto t : {ObjectType::Public, ObjectType::Private, ObjectType::Cert,
                         ObjectType::SecretKey, ObjectType::Data}) {
        EXPECT_EQ(type_from_name(type_name(t)), t);
    }
    EXPECT_EQ(type_from_name("Cert"), std::nullopt);
    EXPECT_EQ(type_from_name(""), std::nullopt);
}

TEST(Format, IdIsAlwaysFullyEncoded) {
    EXPECT_EQ(format(Uri{.id = Bytes{'a', 'b', 0x00, 0xff}}), "pkcs11:id=%61%62%00%FF");
}

TEST(Format, MinimalEscapingInPath) {
    // Unreserved and the path's specials (including "&") stay literal; "/", "?", ";", "%",
    // space, "|" and non-ASCII are encoded, hex in upper case.
    EXPECT_EQ(format(Uri{.object = "aZ0-._~:[]@!$'()*+,=&"}),
              "pkcs11:object=aZ0-._~:[]@!$'()*+,=&");
    EXPECT_EQ(format(Uri{.object = "a b/c?d;e%f|g\xC3\xA1"s}),
              "pkcs11:object=a%20b%2Fc%3Fd%3Be%25f%7Cg%C3%A1");
    EXPECT_EQ(format(Uri{.object = "\0\x7f\""s}), "pkcs11:object=%00%7F%22");
}

TEST(Format, MinimalEscapingInQuery) {
    // The query keeps "/", "?" and "|" literal but must encode "&" (its separator) and ";".
    EXPECT_EQ(format(Uri{.pin_source = "|/bin/x?a"}), "pkcs11:?pin-source=|/bin/x?a");
    EXPECT_EQ(format(Uri{.module_path = "/a b&c;d#"}), "pkcs11:?module-path=/a%20b%26c%3Bd%23");
}

TEST(Format, LowercaseHexInputComesOutUppercase) {
    const ParseResult r = parse("pkcs11:token=%c3%a1;id=%ba%dd");
    ASSERT_TRUE(r);
    EXPECT_EQ(format(*r.uri), "pkcs11:token=%C3%A1;id=%BA%DD");
}

TEST(Format, UnneededEscapesAreDropped) {
    const ParseResult r = parse("pkcs11:object=%61%2D%26?module-path=%2Fx");
    ASSERT_TRUE(r);
    EXPECT_EQ(format(*r.uri), "pkcs11:object=a-&?module-path=/x");
}

TEST(Format, RfcExampleCanonicalForm) {
    const ParseResult r = parse(
        "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;"
        "model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial="
        "?pin-source=file:/etc/token_pin");
    ASSERT_TRUE(r);
    EXPECT_EQ(format(*r.uri),
              "pkcs11:manufacturer=Snake%20Oil,%20Inc.;model=1.0;serial=;"
              "token=The%20Software%20PKCS%2311%20Softtoken;object=my-certificate;type=cert;"
              "id=%69%95%3E%5C%F4%BD%EC%91?pin-source=file:/etc/token_pin");
}

TEST(FormatScope, Object) {
    EXPECT_EQ(format(full_uri(), Scope::Object), format(full_uri()));
}

TEST(FormatScope, Token) {
    EXPECT_EQ(format(full_uri(), Scope::Token),
              "pkcs11:library-manufacturer=lman;library-description=ldesc;library-version=2.1;"
              "manufacturer=man;model=mod;serial=ser;token=tok;slot-manufacturer=sman;"
              "slot-description=sdesc;slot-id=7?module-name=mname&module-path=/lib/m.so");
}

TEST(FormatScope, Module) {
    EXPECT_EQ(format(full_uri(), Scope::Module),
              "pkcs11:library-manufacturer=lman;library-description=ldesc;library-version=2.1"
              "?module-name=mname&module-path=/lib/m.so");
}

TEST(FormatScope, NarrowScopesParseBackToTheSubset) {
    const ParseResult token = parse(format(full_uri(), Scope::Token));
    ASSERT_TRUE(token);
    EXPECT_EQ(token.uri->token, "tok");
    EXPECT_EQ(token.uri->slot_id, 7U);
    EXPECT_FALSE(token.uri->object.has_value());
    EXPECT_FALSE(token.uri->id.has_value());
    EXPECT_FALSE(token.uri->pin_value.has_value());
    EXPECT_TRUE(token.uri->vendor_path.empty());

    const ParseResult module = parse(format(full_uri(), Scope::Module));
    ASSERT_TRUE(module);
    EXPECT_EQ(*module.uri, (Uri{.library_manufacturer = "lman",
                                .library_description = "ldesc",
                                .library_version = Version{2, 1},
                                .module_name = "mname",
                                .module_path = "/lib/m.so"}));
}

TEST(FormatScope, ModuleScopeOfObjectOnlyUriIsEmpty) {
    EXPECT_EQ(
        format(Uri{.object = "a", .type = ObjectType::Cert, .pin_value = "1234"}, Scope::Module),
        "pkcs11:");
}

TEST(FormatRedact, DropsPinValueAndPinSource) {
    const std::string text = format(full_uri(), Scope::Object, Redact::Yes);
    EXPECT_EQ(text.find("s3cr3t-PIN"), std::string::npos) << text;
    EXPECT_EQ(text.find("pin-value"), std::string::npos) << text;
    EXPECT_EQ(text.find("pin-source"), std::string::npos) << text;
    EXPECT_NE(text.find("module-name=mname"), std::string::npos) << text;
    // Unredacted, the PIN is there: the test above would notice if redaction did nothing.
    EXPECT_NE(format(full_uri()).find("pin-value=s3cr3t-PIN"), std::string::npos);
}

TEST(FormatRedact, FormatRedactedIsObjectScopeRedacted) {
    EXPECT_EQ(format_redacted(full_uri()), format(full_uri(), Scope::Object, Redact::Yes));
    EXPECT_EQ(format_redacted(full_uri()),
              "pkcs11:library-manufacturer=lman;library-description=ldesc;library-version=2.1;"
              "manufacturer=man;model=mod;serial=ser;token=tok;slot-manufacturer=sman;"
              "slot-description=sdesc;slot-id=7;object=obj;type=private;id=%01%AB;x-p=1"
              "?module-name=mname&module-path=/lib/m.so&x-q=2");
}

TEST(FormatRedact, RedactedOnlyPinGivesBareScheme) {
    EXPECT_EQ(format_redacted(Uri{.pin_source = "file:/p", .pin_value = "1234"}), "pkcs11:");
}

TEST(FormatRedact, RedactedOutputIndependentOfPin) {
    Uri a = full_uri();
    Uri b = full_uri();
    b.pin_value = "something-else-entirely";
    b.pin_source.reset();
    EXPECT_EQ(format_redacted(a), format_redacted(b));
}

TEST(FormatRedact, TokenScopeNeverHasPin) {
    EXPECT_EQ(format(full_uri(), Scope::Token, Redact::No).find("pin-"), std::string::npos);
}

TEST(FormatVendor, InvalidVendorNamesAreLeftOut) {
    Uri u;
    u.vendor_path = {{"x-ok", "1"}, {"x-bad;token", "2"}, {"", "3"}, {"token", "4"}};
    u.vendor_query = {{"x bad", "5"}, {"x-fine", "6"}};
    EXPECT_EQ(format(u), "pkcs11:x-ok=1?x-fine=6");
}

TEST(FormatVendor, ValuesUseTheirComponentsEscaping) {
    Uri u;
    u.vendor_path = {{"x-a", "/&"}};
    u.vendor_query = {{"x-b", "/&"}};
    EXPECT_EQ(format(u), "pkcs11:x-a=%2F&?x-b=/%26");
}

TEST(FormatVendor, IsVendorName) {
    EXPECT_TRUE(is_vendor_name("x-a"));
    EXPECT_TRUE(is_vendor_name("X-Big_1-"));
    EXPECT_FALSE(is_vendor_name("x-"));
    EXPECT_FALSE(is_vendor_name("y-a"));
    EXPECT_FALSE(is_vendor_name("xa"));
    EXPECT_FALSE(is_vendor_name("x-a.b"));
    EXPECT_FALSE(is_vendor_name("x-a=b"));
    EXPECT_FALSE(is_vendor_name(""));
}

TEST(FormatVendor, PermissiveNamesRoundTripWithTheSameOption) {
    const ParseOptions lenient{.accept_any_vendor_name = true};
    const ParseResult r = parse("pkcs11:vendor-aaa=v?vendor-bbb=w", lenient);
    ASSERT_TRUE(r);
    const std::string text = format(*r.uri);
    EXPECT_EQ(text, "pkcs11:vendor-aaa=v?vendor-bbb=w");
    const ParseResult again = parse(text, lenient);
    ASSERT_TRUE(again);
    EXPECT_EQ(*again.uri, *r.uri);
    EXPECT_FALSE(parse(text)); // the strict default still refuses it
}

TEST(KindName, AllKindsNamed) {
    EXPECT_EQ(kind_name(ParseErrorKind::BadScheme), "bad-scheme");
    EXPECT_EQ(kind_name(ParseErrorKind::BadEncoding), "bad-encoding");
    EXPECT_EQ(kind_name(ParseErrorKind::BadSyntax), "bad-syntax");
    EXPECT_EQ(kind_name(ParseErrorKind::DuplicateAttribute), "duplicate-attribute");
    EXPECT_EQ(kind_name(ParseErrorKind::UnknownAttribute), "unknown-attribute");
    EXPECT_EQ(kind_name(ParseErrorKind::BadValue), "bad-value");
}

TEST(UriValue, CopyKeepsPinAndEquality) {
    const Uri a = full_uri();
    Uri b = a;
    EXPECT_EQ(a, b);
    Uri c = std::move(b);
    EXPECT_EQ(c.pin_value, "s3cr3t-PIN");
    c.pin_value = "";
    EXPECT_NE(a, c);
}

TEST(UriValue, EmptyVersusAbsentDiffer) {
    EXPECT_NE(Uri{.token = ""}, Uri{});
    EXPECT_NE(Uri{.id = Bytes{}}, Uri{});
    EXPECT_NE(format(Uri{.token = ""}), format(Uri{}));
}

} // namespace
} // namespace hsmp::uri
