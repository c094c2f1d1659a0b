// RFC 7512 section 4 matching and trim_padded.
#include "p11uri/uri.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

namespace hsmp::uri {
namespace {

using namespace std::string_literals;
using Bytes = std::vector<std::uint8_t>;

const ModuleInfo kModule{"Snake Oil, Inc.", "Soft Token Library", Version{1, 23}};
const SlotInfo kSlot{"Sun Metaslot", "Oracle", 4};
const TokenInfo kToken{"web", "SoftHSM project", "0123456789abcdef", "SoftHSM v2"};
const ObjectInfo kObject{ObjectType::Private, "tls", Bytes{0x00, 0x01}};

Uri parsed(std::string_view text) {
    ParseResult r = parse(text);
    EXPECT_TRUE(r) << r.error.message;
    return r ? *r.uri : Uri{};
}

TEST(Match, EmptyUriMatchesEverything) {
    const Uri any;
    EXPECT_TRUE(matches(any, kModule));
    EXPECT_TRUE(matches(any, kSlot));
    EXPECT_TRUE(matches(any, kToken));
    EXPECT_TRUE(matches(any, kObject));
    EXPECT_TRUE(matches(any, ModuleInfo{}));
    EXPECT_TRUE(matches(any, SlotInfo{}));
    EXPECT_TRUE(matches(any, TokenInfo{}));
    EXPECT_TRUE(matches(any, ObjectInfo{}));
}

TEST(Match, FullUriMatchesAllLevels) {
    const Uri u = parsed("pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;"
                         "library-description=Soft%20Token%20Library;library-version=1.23;"
                         "slot-description=Sun%20Metaslot;slot-manufacturer=Oracle;slot-id=4;"
                         "token=web;manufacturer=SoftHSM%20project;serial=0123456789abcdef;"
                         "model=SoftHSM%20v2;object=tls;type=private;id=%00%01");
    EXPECT_TRUE(matches(u, kModule));
    EXPECT_TRUE(matches(u, kSlot));
    EXPECT_TRUE(matches(u, kToken));
    EXPECT_TRUE(matches(u, kObject));
}

// Each attribute on its own: equal matches, anything else does not, and an attribute only
// constrains its own level.
struct AttrCase {
    std::string name;
    std::string uri;   // with the attribute equal to the fixture's value
    std::string other; // with the attribute set to something else
};

void PrintTo(const AttrCase& c, std::ostream* os) {
    *os << c.name;
}

class MatchEachAttribute : public testing::TestWithParam<AttrCase> {};

int level_hits(const Uri& u) {
    return int{matches(u, kModule)} + int{matches(u, kSlot)} + int{matches(u, kToken)} +
           int{matches(u, kObject)};
}

TEST_P(MatchEachAttribute, EqualMatchesOtherDoesNot) {
    const Uri same = parsed(GetParam().uri);
    const Uri other = parsed(GetParam().other);
    EXPECT_EQ(level_hits(same), 4);
    // Exactly one level is affected by the differing attribute.
    EXPECT_EQ(level_hits(other), 3);
}

const std::vector<AttrCase> kAttrCases = {
    {"library_manufacturer", "pkcs11:library-manufacturer=Snake%20Oil,%20Inc.",
     "pkcs11:library-manufacturer=Snake%20Oil"},
    {"library_description", "pkcs11:library-description=Soft%20Token%20Library",
     "pkcs11:library-description=soft%20token%20library"},
    {"library_version", "pkcs11:library-version=1.23", "pkcs11:library-version=1.24"},
    {"library_version_major", "pkcs11:library-version=1.23", "pkcs11:library-version=2.23"},
    {"library_version_minor_absent_is_zero", "pkcs11:library-version=1.23",
     "pkcs11:library-version=1"},
    {"slot_description", "pkcs11:slot-description=Sun%20Metaslot",
     "pkcs11:slot-description=Sun%20Metaslot%20"},
    {"slot_manufacturer", "pkcs11:slot-manufacturer=Oracle", "pkcs11:slot-manufacturer=oracle"},
    {"slot_id", "pkcs11:slot-id=4", "pkcs11:slot-id=5"},
    {"token", "pkcs11:token=web", "pkcs11:token=Web"},
    {"manufacturer", "pkcs11:manufacturer=SoftHSM%20project", "pkcs11:manufacturer=SoftHSM"},
    {"serial", "pkcs11:serial=0123456789abcdef", "pkcs11:serial=0123456789ABCDEF"},
    {"model", "pkcs11:model=SoftHSM%20v2", "pkcs11:model=SoftHSM%20v2%00"},
    {"object", "pkcs11:object=tls", "pkcs11:object=tls2"},
    {"type", "pkcs11:type=private", "pkcs11:type=public"},
    {"id", "pkcs11:id=%00%01", "pkcs11:id=%01"},
    {"id_prefix_is_not_enough", "pkcs11:id=%00%01", "pkcs11:id=%00"},
};

INSTANTIATE_TEST_SUITE_P(Attr, MatchEachAttribute, testing::ValuesIn(kAttrCases),
                         [](const testing::TestParamInfo<AttrCase>& info) {
                             return info.param.name;
                         });

TEST(Match, EmptyStringMatchesOnlyEmpty) {
    const Uri empty_token = parsed("pkcs11:token=");
    EXPECT_FALSE(matches(empty_token, kToken));
    EXPECT_TRUE(matches(empty_token, TokenInfo{"", "m", "s", "x"}));

    const Uri empty_serial = parsed("pkcs11:serial=");
    EXPECT_FALSE(matches(empty_serial, kToken));
    EXPECT_TRUE(matches(empty_serial, TokenInfo{"web", "m", "", "x"}));
}

TEST(Match, EmptyIdMatchesOnlyEmptyId) {
    const Uri u = parsed("pkcs11:id=");
    EXPECT_FALSE(matches(u, kObject));
    EXPECT_TRUE(matches(u, ObjectInfo{ObjectType::Cert, "x", Bytes{}}));
    EXPECT_FALSE(matches(u, ObjectInfo{ObjectType::Cert, "x", std::nullopt}));
}

TEST(Match, ObjectMissingAnAttributeTheUriNames) {
    const ObjectInfo bare{std::nullopt, std::nullopt, std::nullopt};
    EXPECT_TRUE(matches(Uri{}, bare));
    EXPECT_FALSE(matches(parsed("pkcs11:object=tls"), bare));
    EXPECT_FALSE(matches(parsed("pkcs11:object="), bare)); // empty is not absent
    EXPECT_FALSE(matches(parsed("pkcs11:type=private"), bare));
    EXPECT_FALSE(matches(parsed("pkcs11:id=%00%01"), bare));
    // Attributes the URI does not name are not required of the object.
    EXPECT_TRUE(
        matches(parsed("pkcs11:object=tls"), ObjectInfo{std::nullopt, "tls", std::nullopt}));
}

TEST(Match, BinaryLabelComparedByteForByte) {
    const Uri u = parsed("pkcs11:object=a%00b");
    EXPECT_TRUE(matches(u, ObjectInfo{std::nullopt, "a\0b"s, std::nullopt}));
    EXPECT_FALSE(matches(u, ObjectInfo{std::nullopt, "a"s, std::nullopt}));
}

TEST(Match, VendorPathAttributesFailClosed) {
    const Uri u = parsed("pkcs11:x-colour=blue");
    EXPECT_FALSE(matches(u, kModule));
    EXPECT_FALSE(matches(u, kSlot));
    EXPECT_FALSE(matches(u, kToken));
    EXPECT_FALSE(matches(u, kObject));
}

TEST(Match, QueryAttributesDoNotAffectMatching) {
    const Uri u = parsed("pkcs11:token=web?module-name=other&module-path=/x.so&pin-value=1&"
                         "pin-source=file:/p&x-hint=1");
    EXPECT_TRUE(matches(u, kModule));
    EXPECT_TRUE(matches(u, kSlot));
    EXPECT_TRUE(matches(u, kToken));
    EXPECT_TRUE(matches(u, kObject));
}

TEST(Match, UsesTrimmedTokenFields) {
    // The typical flow: the module's blank-padded label is trimmed, then matched.
    std::array<unsigned char, 32> label{};
    label.fill(' ');
    label[0] = 'w';
    label[1] = 'e';
    label[2] = 'b';
    const TokenInfo info{trim_padded(label.data(), label.size()), "m", "s", "x"};
    EXPECT_TRUE(matches(parsed("pkcs11:token=web"), info));
    EXPECT_FALSE(matches(parsed("pkcs11:token=web%20"), info));
}

std::string trim(std::string_view s) {
    return trim_padded(reinterpret_cast<const unsigned char*>(s.data()), s.size());
}

TEST(TrimPadded, RemovesTrailingBlanks) {
    EXPECT_EQ(trim("abc     "), "abc");
}
TEST(TrimPadded, KeepsLeadingAndInnerBlanks) {
    EXPECT_EQ(trim("  a b  "), "  a b");
}
TEST(TrimPadded, AllBlanksIsEmpty) {
    EXPECT_EQ(trim("        "), "");
}
TEST(TrimPadded, NoPaddingIsUnchanged) {
    EXPECT_EQ(trim("abcdefgh"), "abcdefgh");
}
TEST(TrimPadded, NulPaddingRemoved) {
    EXPECT_EQ(trim("abc\0\0\0"s), "abc");
}
TEST(TrimPadded, MixedPaddingRemoved) {
    EXPECT_EQ(trim("abc \0 \0"s), "abc");
}
TEST(TrimPadded, InnerNulKept) {
    EXPECT_EQ(trim("a\0b  "s), "a\0b"s);
}
TEST(TrimPadded, OtherWhitespaceKept) {
    EXPECT_EQ(trim("abc\t"), "abc\t");
}
TEST(TrimPadded, ZeroWidth) {
    EXPECT_EQ(trim(""), "");
    EXPECT_EQ(trim_padded(nullptr, 0), "");
}
TEST(TrimPadded, RespectsWidth) {
    const unsigned char field[] = {'a', 'b', ' ', 'c', 'd'};
    EXPECT_EQ(trim_padded(field, 3), "ab");
    EXPECT_EQ(trim_padded(field, 5), "ab cd");
}

} // namespace
} // namespace hsmp::uri
