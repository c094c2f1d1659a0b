// Parser tables: the RFC 7512 section 3.3 examples, further valid forms, and invalid inputs
// with the exact error kind, offset and a message fragment.
#include "p11uri/uri.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace hsmp::uri {
namespace {

using namespace std::string_literals;
using Bytes = std::vector<std::uint8_t>;

struct ValidCase {
    std::string name;
    std::string input;
    Uri expected;
    ParseOptions options{};
};

void PrintTo(const ValidCase& c, std::ostream* os) {
    *os << c.name << ": " << c.input;
}

std::string case_name(const testing::TestParamInfo<ValidCase>& info) {
    return info.param.name;
}

class ParseValid : public testing::TestWithParam<ValidCase> {};

TEST_P(ParseValid, ParsesToExpectedFields) {
    const auto& c = GetParam();
    const ParseResult r = parse(c.input, c.options);
    ASSERT_TRUE(r) << r.error.message;
    EXPECT_EQ(*r.uri, c.expected);
}

// A parsed URI formats to text that parses back to the same value, and formatting is a
// fixed point from then on.
TEST_P(ParseValid, FormatRoundTrips) {
    const auto& c = GetParam();
    const ParseResult r = parse(c.input, c.options);
    ASSERT_TRUE(r) << r.error.message;
    const std::string text = format(*r.uri);
    const ParseResult again = parse(text, c.options);
    ASSERT_TRUE(again) << again.error.message;
    EXPECT_EQ(*again.uri, *r.uri);
    EXPECT_EQ(format(*again.uri), text);
}

// RFC 7512 section 3.3, in the order the RFC lists them.
const std::vector<ValidCase> kRfcExamples = {
    {"empty", "pkcs11:", Uri{}},
    {"pubkey", "pkcs11:object=my-pubkey;type=public",
     Uri{.object = "my-pubkey", .type = ObjectType::Public}},
    {"private_key_pin_source", "pkcs11:object=my-key;type=private?pin-source=file:/etc/token",
     Uri{.object = "my-key", .type = ObjectType::Private, .pin_source = "file:/etc/token"}},
    {"full_certificate",
     "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;"
     "model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial="
     "?pin-source=file:/etc/token_pin",
     Uri{.token = "The Software PKCS#11 Softtoken",
         .manufacturer = "Snake Oil, Inc.",
         .serial = "",
         .model = "1.0",
         .object = "my-certificate",
         .type = ObjectType::Cert,
         .id = Bytes{0x69, 0x95, 0x3E, 0x5C, 0xF4, 0xBD, 0xEC, 0x91},
         .pin_source = "file:/etc/token_pin"}},
    {"module_name", "pkcs11:object=my-sign-key;type=private?module-name=mypkcs11",
     Uri{.object = "my-sign-key", .type = ObjectType::Private, .module_name = "mypkcs11"}},
    {"module_path", "pkcs11:object=my-sign-key;type=private?module-path=/mnt/libmypkcs11.so.1",
     Uri{.object = "my-sign-key",
         .type = ObjectType::Private,
         .module_path = "/mnt/libmypkcs11.so.1"}},
    {"pin_value",
     "pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc."
     "?pin-value=the-pin",
     Uri{.token = "Software PKCS#11 softtoken",
         .manufacturer = "Snake Oil, Inc.",
         .pin_value = "the-pin"}},
    {"slot_description", "pkcs11:slot-description=Sun%20Metaslot",
     Uri{.slot_description = "Sun Metaslot"}},
    {"library",
     "pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token%20Library;"
     "library-version=1.23",
     Uri{.library_manufacturer = "Snake Oil, Inc.",
         .library_description = "Soft Token Library",
         .library_version = Version{1, 23}}},
    {"mixed_case_hex_id",
     "pkcs11:token=My%20token%25%20created%20by%20Joe;library-version=3;"
     "id=%01%02%03%Ba%dd%Ca%fe%04%05%06",
     Uri{.token = "My token% created by Joe",
         .library_version = Version{3, 0},
         .id = Bytes{0x01, 0x02, 0x03, 0xBA, 0xDD, 0xCA, 0xFE, 0x04, 0x05, 0x06}}},
    {"escaped_separator",
     "pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;object=my-certificate;type=cert",
     Uri{.token = "A name with a substring %;",
         .object = "my-certificate",
         .type = ObjectType::Cert}},
    {"utf8",
     "pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;"
     "object=my-certificate;type=cert",
     Uri{.token = "Name with a small A with acute: \xC3\xA1",
         .object = "my-certificate",
         .type = ObjectType::Cert}},
    // The RFC's vendor example uses names without "x-"; only the permissive option takes them.
    {"vendor_unprefixed",
     "pkcs11:token=my-token;object=my-certificate;type=cert;vendor-aaa=value-a"
     "?pin-source=file:/etc/token_pin&vendor-bbb=value-b",
     Uri{.token = "my-token",
         .object = "my-certificate",
         .type = ObjectType::Cert,
         .pin_source = "file:/etc/token_pin",
         .vendor_path = {{"vendor-aaa", "value-a"}},
         .vendor_query = {{"vendor-bbb", "value-b"}}},
     ParseOptions{.accept_any_vendor_name = true}},
};

INSTANTIATE_TEST_SUITE_P(Rfc7512, ParseValid, testing::ValuesIn(kRfcExamples), case_name);

// The RFC prints its longest example wrapped over lines. As text it is invalid (whitespace is
// not in the grammar); with the whitespace removed, as the RFC allows, it is example 4.
TEST(ParseRfc, WrappedExampleNeedsWhitespaceRemoved) {
    const std::string wrapped = "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;\n"
                                "       manufacturer=Snake%20Oil,%20Inc.;\n"
                                "       model=1.0;\n"
                                "       object=my-certificate;\n"
                                "       type=cert;\n"
                                "       id=%69%95%3E%5C%F4%BD%EC%91;\n"
                                "       serial=\n"
                                "       ?pin-source=file:/etc/token_pin";
    const ParseResult bad = parse(wrapped);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error.kind, ParseErrorKind::BadSyntax);
    EXPECT_EQ(bad.error.offset, wrapped.find('\n'));
    EXPECT_NE(bad.error.message.find("0x0A"), std::string::npos) << bad.error.message;

    std::string joined;
    for (const char c : wrapped) {
        if (c != ' ' && c != '\n') {
            joined += c;
        }
    }
    const ParseResult good = parse(joined);
    ASSERT_TRUE(good) << good.error.message;
    EXPECT_EQ(*good.uri, kRfcExamples[3].expected);
}

TEST(ParseRfc, UnprefixedVendorNameIsUnknownByDefault) {
    const ParseResult r = parse(kRfcExamples.back().input);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error.kind, ParseErrorKind::UnknownAttribute);
    EXPECT_EQ(r.error.offset, 54U);
    EXPECT_NE(r.error.message.find("unknown attribute \"vendor-aaa\""), std::string::npos);
}

const std::vector<ValidCase> kMoreValid = {
    {"scheme_upper", "PKCS11:token=a", Uri{.token = "a"}},
    {"scheme_mixed", "PkCs11:object=b", Uri{.object = "b"}},
    {"scheme_upper_empty", "PKCS11:", Uri{}},
    {"id_nul", "pkcs11:id=%00", Uri{.id = Bytes{0x00}}},
    {"id_nuls_inside", "pkcs11:id=%00%01%00", Uri{.id = Bytes{0x00, 0x01, 0x00}}},
    {"id_literal_chars", "pkcs11:id=ab", Uri{.id = Bytes{'a', 'b'}}},
    {"id_empty", "pkcs11:id=", Uri{.id = Bytes{}}},
    {"token_empty", "pkcs11:token=", Uri{.token = ""}},
    {"all_empty_strings", "pkcs11:token=;manufacturer=;serial=;model=;object=",
     Uri{.token = "", .manufacturer = "", .serial = "", .model = "", .object = ""}},
    {"object_nul_inside", "pkcs11:object=a%00b", Uri{.object = "a\0b"s}},
    {"empty_query_after_path", "pkcs11:token=a?", Uri{.token = "a"}},
    {"empty_query_only", "pkcs11:?", Uri{}},
    {"pin_value_empty", "pkcs11:?pin-value=", Uri{.pin_value = ""}},
    {"vendor_path", "pkcs11:x-foo=bar", Uri{.vendor_path = {{"x-foo", "bar"}}}},
    {"vendor_query", "pkcs11:?x-foo=bar", Uri{.vendor_query = {{"x-foo", "bar"}}}},
    {"vendor_same_name_both_sides", "pkcs11:x-foo=1?x-foo=2",
     Uri{.vendor_path = {{"x-foo", "1"}}, .vendor_query = {{"x-foo", "2"}}}},
    {"vendor_order_kept", "pkcs11:x-b=2;token=t;x-a=1",
     Uri{.token = "t", .vendor_path = {{"x-b", "2"}, {"x-a", "1"}}}},
    {"vendor_upper_prefix_and_decoding", "pkcs11:X-Big_Name-1=a%20b%00",
     Uri{.vendor_path = {{"X-Big_Name-1", "a b\0"s}}}},
    {"vendor_empty_value", "pkcs11:?x-flag=", Uri{.vendor_query = {{"x-flag", ""}}}},
    {"version_major_only", "pkcs11:library-version=1", Uri{.library_version = Version{1, 0}}},
    {"version_major_minor", "pkcs11:library-version=1.2", Uri{.library_version = Version{1, 2}}},
    {"version_zero", "pkcs11:library-version=0.0", Uri{.library_version = Version{0, 0}}},
    {"version_max", "pkcs11:library-version=255.255", Uri{.library_version = Version{255, 255}}},
    {"version_leading_zeros", "pkcs11:library-version=01.002",
     Uri{.library_version = Version{1, 2}}},
    {"slot_id_zero", "pkcs11:slot-id=0", Uri{.slot_id = 0U}},
    {"slot_id_max", "pkcs11:slot-id=18446744073709551615", Uri{.slot_id = 18446744073709551615ULL}},
    {"slot_id_leading_zeros", "pkcs11:slot-id=007", Uri{.slot_id = 7U}},
    {"type_public", "pkcs11:type=public", Uri{.type = ObjectType::Public}},
    {"type_private", "pkcs11:type=private", Uri{.type = ObjectType::Private}},
    {"type_cert", "pkcs11:type=cert", Uri{.type = ObjectType::Cert}},
    {"type_secret_key", "pkcs11:type=secret-key", Uri{.type = ObjectType::SecretKey}},
    {"type_data", "pkcs11:type=data", Uri{.type = ObjectType::Data}},
    {"type_percent_encoded", "pkcs11:type=cer%74", Uri{.type = ObjectType::Cert}},
    {"equals_in_value", "pkcs11:object=a=b", Uri{.object = "a=b"}},
    {"ampersand_literal_in_path", "pkcs11:object=a&b", Uri{.object = "a&b"}},
    {"question_mark_in_query", "pkcs11:?pin-source=a?b", Uri{.pin_source = "a?b"}},
    {"slash_in_query", "pkcs11:?module-path=/usr/lib/x.so", Uri{.module_path = "/usr/lib/x.so"}},
    {"pipe_in_query", "pkcs11:?pin-source=|/bin/getpin", Uri{.pin_source = "|/bin/getpin"}},
    {"slash_encoded_in_path", "pkcs11:object=a%2Fb", Uri{.object = "a/b"}},
    {"path_specials_literal", "pkcs11:object=:[]@!$'()*+,=&", Uri{.object = ":[]@!$'()*+,=&"}},
    {"query_specials_literal", "pkcs11:?module-name=:[]@!$'()*+,=/?|",
     Uri{.module_name = ":[]@!$'()*+,=/?|"}},
    {"unreserved_literal", "pkcs11:object=AZaz09-._~", Uri{.object = "AZaz09-._~"}},
    {"lowercase_hex", "pkcs11:token=%c3%a1", Uri{.token = "\xC3\xA1"}},
    {"encoded_percent", "pkcs11:object=%25", Uri{.object = "%"}},
    {"encoded_space", "pkcs11:serial=%20", Uri{.serial = " "}},
    {"query_any_order", "pkcs11:?module-path=/a&pin-source=b&module-name=c&pin-value=d",
     Uri{.pin_source = "b", .pin_value = "d", .module_name = "c", .module_path = "/a"}},
    {"all_path_attributes",
     "pkcs11:token=t;manufacturer=m;serial=s;model=o;library-manufacturer=lm;"
     "library-description=ld;library-version=2.5;object=l;type=data;id=%01;"
     "slot-description=sd;slot-manufacturer=sm;slot-id=3",
     Uri{.token = "t",
         .manufacturer = "m",
         .serial = "s",
         .model = "o",
         .library_manufacturer = "lm",
         .library_description = "ld",
         .library_version = Version{2, 5},
         .object = "l",
         .type = ObjectType::Data,
         .id = Bytes{0x01},
         .slot_description = "sd",
         .slot_manufacturer = "sm",
         .slot_id = 3U}},
    {"every_byte_encoded", "pkcs11:object=%FF%80%7F%01", Uri{.object = "\xFF\x80\x7F\x01"}},
    {"permissive_still_takes_x_names", "pkcs11:x-a=1;other_name=2",
     Uri{.vendor_path = {{"x-a", "1"}, {"other_name", "2"}}},
     ParseOptions{.accept_any_vendor_name = true}},
};

INSTANTIATE_TEST_SUITE_P(Valid, ParseValid, testing::ValuesIn(kMoreValid), case_name);

struct InvalidCase {
    std::string name;
    std::string input;
    ParseErrorKind kind;
    std::size_t offset;
    std::string fragment; // must appear in the message
};

void PrintTo(const InvalidCase& c, std::ostream* os) {
    *os << c.name << ": " << c.input;
}

class ParseInvalid : public testing::TestWithParam<InvalidCase> {};

TEST_P(ParseInvalid, ReportsKindOffsetAndMessage) {
    const auto& c = GetParam();
    const ParseResult r = parse(c.input);
    ASSERT_FALSE(r) << "parsed: " << format(*r.uri);
    EXPECT_EQ(r.error.kind, c.kind) << r.error.message;
    EXPECT_EQ(r.error.offset, c.offset) << r.error.message;
    EXPECT_NE(r.error.message.find(c.fragment), std::string::npos) << r.error.message;
    // Every message ends by locating the problem.
    EXPECT_NE(r.error.message.find(" at offset " + std::to_string(c.offset) + " in \""),
              std::string::npos)
        << r.error.message;
    EXPECT_EQ(r.error.message.find('\n'), std::string::npos);
}

using K = ParseErrorKind;
const std::vector<InvalidCase> kInvalid = {
    // Scheme.
    {"empty_input", "", K::BadScheme, 0, "expected scheme \"pkcs11:\""},
    {"scheme_without_colon", "pkcs11", K::BadScheme, 0, "expected scheme"},
    {"scheme_misspelt", "pkcs1:token=a", K::BadScheme, 0, "expected scheme"},
    {"other_scheme", "file:///etc/key.pem", K::BadScheme, 0, "expected scheme"},
    {"leading_whitespace", " pkcs11:token=a", K::BadScheme, 0, "expected scheme"},
    {"space_before_colon", "pkcs11 :token=a", K::BadScheme, 0, "expected scheme"},
    // Percent-encoding.
    {"pct_non_hex", "pkcs11:object=a%zz", K::BadEncoding, 15, "bad percent-encoding"},
    {"pct_one_digit_at_end", "pkcs11:object=%4", K::BadEncoding, 14, "bad percent-encoding"},
    {"pct_trailing", "pkcs11:object=%", K::BadEncoding, 14, "bad percent-encoding"},
    {"pct_one_digit_before_separator", "pkcs11:object=%4;token=a", K::BadEncoding, 14,
     "bad percent-encoding"},
    {"pct_second_digit_bad", "pkcs11:id=%0g", K::BadEncoding, 10, "bad percent-encoding"},
    {"pct_trailing_in_query", "pkcs11:?pin-source=%", K::BadEncoding, 19, "bad percent-encoding"},
    {"pct_double_percent", "pkcs11:object=%%41", K::BadEncoding, 14, "bad percent-encoding"},
    // Characters outside the grammar, whitespace included.
    {"space_in_value", "pkcs11:token=a b", K::BadSyntax, 14, "invalid character ' '"},
    {"tab_in_value", "pkcs11:token=a\tb", K::BadSyntax, 14, "invalid character 0x09"},
    {"trailing_newline", "pkcs11:token=a\n", K::BadSyntax, 14, "invalid character 0x0A"},
    {"space_after_separator", "pkcs11:token=a; object=b", K::BadSyntax, 15, "in attribute name"},
    {"space_before_separator", "pkcs11:token=a ;object=b", K::BadSyntax, 14, "in path value"},
    {"slash_in_path", "pkcs11:token=a/b", K::BadSyntax, 14, "invalid character '/' in path"},
    {"pipe_in_path", "pkcs11:token=a|b", K::BadSyntax, 14, "invalid character '|'"},
    {"hash_in_path", "pkcs11:token=a#b", K::BadSyntax, 14, "invalid character '#'"},
    {"quote_in_path", "pkcs11:token=\"x\"", K::BadSyntax, 13, "invalid character '\"'"},
    {"semicolon_in_query", "pkcs11:?pin-source=a;b", K::BadSyntax, 20,
     "invalid character ';' in query value"},
    {"raw_utf8", "pkcs11:token=\xC3\xA1", K::BadSyntax, 13, "invalid character 0xC3"},
    {"nul_byte", "pkcs11:token=a\0b"s, K::BadSyntax, 14, "invalid character 0x00"},
    {"dot_in_name", "pkcs11:tok.en=a", K::BadSyntax, 10, "invalid character '.' in attribute"},
    {"pct_in_name", "pkcs11:t%6Fken=a", K::BadSyntax, 8, "in attribute name"},
    // Structure.
    {"attribute_without_equals", "pkcs11:token", K::BadSyntax, 7, "attribute without \"=\""},
    {"second_attribute_without_equals", "pkcs11:token=a;object", K::BadSyntax, 15,
     "attribute without \"=\""},
    {"empty_name", "pkcs11:=a", K::BadSyntax, 7, "empty attribute name"},
    {"lone_separator", "pkcs11:;", K::BadSyntax, 7, "empty attribute in path"},
    {"trailing_separator", "pkcs11:token=a;", K::BadSyntax, 15, "empty attribute in path"},
    {"double_separator", "pkcs11:token=a;;object=b", K::BadSyntax, 15, "empty attribute"},
    {"lone_query_separator", "pkcs11:?&", K::BadSyntax, 8, "empty attribute in query"},
    {"trailing_query_separator", "pkcs11:?pin-source=a&", K::BadSyntax, 21,
     "empty attribute in query"},
    // Duplicates.
    {"duplicate_token", "pkcs11:token=a;token=b", K::DuplicateAttribute, 15,
     "duplicate attribute \"token\""},
    {"duplicate_same_value", "pkcs11:id=%01;id=%01", K::DuplicateAttribute, 14,
     "duplicate attribute \"id\""},
    {"duplicate_type", "pkcs11:object=a;type=cert;type=cert", K::DuplicateAttribute, 26,
     "duplicate attribute \"type\""},
    {"duplicate_query", "pkcs11:?module-name=a&module-name=b", K::DuplicateAttribute, 22,
     "duplicate attribute \"module-name\""},
    {"duplicate_vendor", "pkcs11:x-a=1;x-a=2", K::DuplicateAttribute, 13,
     "duplicate attribute \"x-a\""},
    // Unknown names and wrong components.
    {"unknown_name", "pkcs11:tokn=x", K::UnknownAttribute, 7, "unknown attribute \"tokn\""},
    {"names_are_case_sensitive", "pkcs11:Token=x", K::UnknownAttribute, 7,
     "unknown attribute \"Token\""},
    {"unknown_in_query", "pkcs11:?pin=1", K::UnknownAttribute, 8, "unknown attribute \"pin\""},
    {"vendor_prefix_only", "pkcs11:x-=1", K::UnknownAttribute, 7, "unknown attribute \"x-\""},
    {"unprefixed_vendor", "pkcs11:vendor-aaa=1", K::UnknownAttribute, 7,
     "unknown attribute \"vendor-aaa\""},
    {"query_attribute_in_path", "pkcs11:module-name=m", K::UnknownAttribute, 7,
     "query attribute \"module-name\" in the path"},
    {"path_attribute_in_query", "pkcs11:?token=a", K::UnknownAttribute, 8,
     "path attribute \"token\" in the query"},
    // Values with a required form.
    {"type_unknown", "pkcs11:type=foo", K::BadValue, 12, "bad value for \"type\""},
    {"type_empty", "pkcs11:type=", K::BadValue, 12, "bad value for \"type\""},
    {"type_upper_case", "pkcs11:type=Cert", K::BadValue, 12, "bad value for \"type\""},
    {"type_underscore", "pkcs11:type=secret_key", K::BadValue, 12, "bad value for \"type\""},
    {"version_trailing_dot", "pkcs11:library-version=1.", K::BadValue, 23,
     "bad value for \"library-version\""},
    {"version_letters", "pkcs11:library-version=a.b", K::BadValue, 23, "library-version"},
    {"version_major_too_big", "pkcs11:library-version=256.1", K::BadValue, 23, "0-255"},
    {"version_minor_too_big", "pkcs11:library-version=1.256", K::BadValue, 23, "0-255"},
    {"version_leading_dot", "pkcs11:library-version=.1", K::BadValue, 23, "library-version"},
    {"version_three_parts", "pkcs11:library-version=1.2.3", K::BadValue, 23, "library-version"},
    {"version_empty", "pkcs11:library-version=", K::BadValue, 23, "library-version"},
    {"version_negative", "pkcs11:library-version=-1", K::BadValue, 23, "library-version"},
    {"slot_id_empty", "pkcs11:slot-id=", K::BadValue, 15, "bad value for \"slot-id\""},
    {"slot_id_negative", "pkcs11:slot-id=-1", K::BadValue, 15, "slot-id"},
    {"slot_id_overflow", "pkcs11:slot-id=18446744073709551616", K::BadValue, 15, "slot-id"},
    {"slot_id_hex", "pkcs11:slot-id=0x10", K::BadValue, 15, "slot-id"},
    {"slot_id_plus", "pkcs11:slot-id=+1", K::BadValue, 15, "slot-id"},
    {"slot_id_decoded_space", "pkcs11:slot-id=1%20", K::BadValue, 15, "slot-id"},
    // The first problem from the left wins.
    {"first_error_wins", "pkcs11:tokn=a%zz", K::UnknownAttribute, 7, "unknown attribute"},
    {"encoding_before_later_syntax", "pkcs11:token=a%3;object=b c", K::BadEncoding, 14,
     "bad percent-encoding"},
};

INSTANTIATE_TEST_SUITE_P(Invalid, ParseInvalid, testing::ValuesIn(kInvalid),
                         [](const testing::TestParamInfo<InvalidCase>& info) {
                             return info.param.name;
                         });

// The two messages spelled out in the interface documentation, in full.
TEST(ParseMessage, ExactTextForBadEncoding) {
    EXPECT_EQ(parse("pkcs11:object=a%zz").error.message,
              "bad percent-encoding at offset 15 in \"pkcs11:object=a%zz\"");
}

TEST(ParseMessage, ExactTextForUnknownAttribute) {
    EXPECT_EQ(parse("pkcs11:tokn=x").error.message,
              "unknown attribute \"tokn\" at offset 7 in \"pkcs11:tokn=x\"");
}

TEST(ParseMessage, LongInputIsCapped) {
    const std::string input = "pkcs11:object=" + std::string(5000, 'a') + " ";
    const ParseResult r = parse(input);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error.offset, input.size() - 1);
    EXPECT_LT(r.error.message.size(), 400U);
    EXPECT_NE(r.error.message.find("...\""), std::string::npos) << r.error.message;
}

TEST(ParseMessage, LongNameIsCapped) {
    const std::string input = "pkcs11:" + std::string(1000, 'n') + "=1";
    const ParseResult r = parse(input);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error.kind, ParseErrorKind::UnknownAttribute);
    EXPECT_LT(r.error.message.size(), 400U);
}

TEST(ParseMessage, ControlBytesAndQuotesAreEscaped) {
    const ParseResult r = parse("pkcs11:token=\"a\r\nb\x1b");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error.message.find('\r'), std::string::npos);
    EXPECT_EQ(r.error.message.find('\n'), std::string::npos);
    EXPECT_EQ(r.error.message.find('\x1b'), std::string::npos);
    EXPECT_NE(r.error.message.find("in \"pkcs11:token=\\\"a\\x0d\\x0ab\\x1b\""), std::string::npos)
        << r.error.message;
}

TEST(ParseResultShape, SuccessHasUriAndEmptyMessage) {
    const ParseResult r = parse("pkcs11:token=a");
    EXPECT_TRUE(static_cast<bool>(r));
    EXPECT_TRUE(r.uri.has_value());
    EXPECT_TRUE(r.error.message.empty());
}

TEST(ParseResultShape, FailureHasNoUri) {
    const ParseResult r = parse("pkcs11:token=a;token=b");
    EXPECT_FALSE(static_cast<bool>(r));
    EXPECT_FALSE(r.uri.has_value());
}

// Inputs that carry a PIN and fail: the message must show "***" and never the PIN, nor any
// piece of it, whatever went wrong and wherever the PIN sits.
struct RedactionCase {
    std::string name;
    std::string input;
    std::vector<std::string> forbidden;
};

void PrintTo(const RedactionCase& c, std::ostream* os) {
    *os << c.name;
}

class ParseRedaction : public testing::TestWithParam<RedactionCase> {};

TEST_P(ParseRedaction, MessageNeverShowsThePin) {
    const auto& c = GetParam();
    const ParseResult r = parse(c.input);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error.message.find("***"), std::string::npos) << r.error.message;
    for (const auto& f : c.forbidden) {
        EXPECT_EQ(r.error.message.find(f), std::string::npos)
            << "leaked \"" << f << "\": " << r.error.message;
    }
}

const std::vector<RedactionCase> kRedaction = {
    {"error_before_pin", "pkcs11:token=a b?pin-value=secret123", {"secret", "123"}},
    {"error_after_pin", "pkcs11:?pin-value=secret123&tokn=1", {"secret", "123"}},
    {"error_inside_pin", "pkcs11:?pin-value=sec ret", {"sec", "ret", "' '"}},
    {"bad_encoding_in_pin", "pkcs11:?pin-value=12%zz34", {"12", "zz", "34"}},
    {"duplicate_pin", "pkcs11:?pin-value=1234&pin-value=5678", {"1234", "5678"}},
    {"pin_in_path", "pkcs11:token=a;pin-value=4321?x-a=1", {"4321"}},
    {"pin_at_path_start", "pkcs11:pin-value=4321", {"4321"}},
    {"pin_behind_ampersand_in_path", "pkcs11:token=a b&pin-value=4321", {"4321"}},
    {"pin_with_semicolon_in_query", "pkcs11:?pin-value=ab;cd&module-name=x", {"ab;", "cd"}},
    {"pin_with_question_mark", "pkcs11:?pin-value=12?34;x y", {"12", "34"}},
    {"pin_upper_case_name", "pkcs11:?PIN-VALUE=9876", {"9876"}},
    {"pin_colon_instead_of_equals", "pkcs11:?pin-value:9876", {"9876"}},
    {"pin_glued_to_name", "pkcs11:?pin-value9876=1", {"9876"}},
    {"pin_encoded_name", "pkcs11:?pin%2Dvalue=9876", {"9876"}},
    {"pin_leading_space", "pkcs11:? pin-value=9876", {"9876"}},
    {"pin_with_bad_scheme", "pkcs12:?pin-value=4321", {"4321"}},
    {"pin_in_scheme_segment", "pkcs12:pin-value=4321", {"4321"}},
};

INSTANTIATE_TEST_SUITE_P(Pin, ParseRedaction, testing::ValuesIn(kRedaction),
                         [](const testing::TestParamInfo<RedactionCase>& info) {
                             return info.param.name;
                         });

TEST(ParseRedactionExact, PinReplacedByStars) {
    EXPECT_EQ(parse("pkcs11:token=a b?pin-value=1234&module-name=m").error.message,
              "invalid character ' ' (whitespace) in path value at offset 14 in "
              "\"pkcs11:token=a b?pin-value=***&module-name=m\"");
}

TEST(ParseRedactionExact, PinSourceIsNotMasked) {
    // pin-source names a location, not a secret; only pin-value is masked.
    const ParseResult r = parse("pkcs11:?pin-source=file:/p&bad");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error.message.find("pin-source=file:/p"), std::string::npos) << r.error.message;
}

} // namespace
} // namespace hsmp::uri
