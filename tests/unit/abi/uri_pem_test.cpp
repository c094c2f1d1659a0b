// The key-reference PEM format (ops/uri_pem): the exact bytes latchset/pkcs11-provider writes,
// OpenSSL's own PEM and ASN.1 readers agreeing with ours, and a table of malformed inputs the
// strict DER reader must refuse without crashing or echoing the content.
#include "ops/uri_pem.hpp"

#include <gtest/gtest.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>

#include <cstdint>
#include <string>
#include <vector>

namespace uri_pem = hsmp::ops::uri_pem;

namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr const char* kUri = "pkcs11:token=hsmp-test;object=ec-p256;type=private;id=%04";

Bytes der_of(std::string_view uri) {
    auto der = uri_pem::encode_der(uri);
    EXPECT_TRUE(der.ok());
    return der.ok() ? der.value() : Bytes{};
}

// DER of SEQUENCE { VisibleString desc, UTF8String uri } with short-form lengths, built by
// hand so the tests do not trust the encoder they check.
Bytes handmade(std::string_view desc, std::string_view uri) {
    Bytes out{0x30, static_cast<std::uint8_t>(4 + desc.size() + uri.size()), 0x1a,
              static_cast<std::uint8_t>(desc.size())};
    out.insert(out.end(), desc.begin(), desc.end());
    out.push_back(0x0c);
    out.push_back(static_cast<std::uint8_t>(uri.size()));
    out.insert(out.end(), uri.begin(), uri.end());
    return out;
}

TEST(UriPem, EncodesTheLatchsetStructure) {
    EXPECT_EQ(der_of(kUri), handmade(uri_pem::kDescription, kUri));
}

TEST(UriPem, RoundTripsShortAndLongUris) {
    for (std::size_t len : {1UL, 100UL, 127UL, 128UL, 255UL, 256UL, 4000UL, 16384UL}) {
        std::string uri = "pkcs11:object=" + std::string(len > 14 ? len - 14 : 0, 'a');
        uri.resize(std::max<std::size_t>(len, 1), 'b');
        const Bytes der = der_of(uri);
        auto back = uri_pem::decode_der(der);
        ASSERT_TRUE(back.ok()) << len << ": " << back.error().message();
        EXPECT_EQ(back.value(), uri) << len;
    }
}

TEST(UriPem, LongLengthsAreMinimalDer) {
    const std::string uri(300, 'x');
    const Bytes der = der_of(uri);
    // 300 + 27 (description TLV) + 4 (URI tag and 82 01 2c) = 331 = 0x014b.
    ASSERT_GE(der.size(), 4U);
    EXPECT_EQ(der[0], 0x30);
    EXPECT_EQ(der[1], 0x82);
    EXPECT_EQ(der[2], 0x01);
    EXPECT_EQ(der[3], 0x4b);
    EXPECT_EQ(der.size(), 4U + 0x14bU);
}

TEST(UriPem, OpenSslParsesWhatWeWrite) {
    const Bytes der = der_of(kUri);
    const unsigned char* p = der.data();
    long len = 0;
    int tag = 0;
    int cls = 0;
    ASSERT_EQ(ASN1_get_object(&p, &len, &tag, &cls, static_cast<long>(der.size())),
              V_ASN1_CONSTRUCTED);
    EXPECT_EQ(tag, V_ASN1_SEQUENCE);
    ASSERT_EQ(ASN1_get_object(&p, &len, &tag, &cls, len), 0);
    EXPECT_EQ(tag, V_ASN1_VISIBLESTRING);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(len)),
              uri_pem::kDescription);
    p += len;
    ASSERT_EQ(ASN1_get_object(&p, &len, &tag, &cls, 1000), 0);
    EXPECT_EQ(tag, V_ASN1_UTF8STRING);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(len)), kUri);
}

TEST(UriPem, PemIsWhatPemWriteBioWrites) {
    for (std::size_t len : {10UL, 47UL, 48UL, 49UL, 200UL, 1000UL}) {
        const std::string uri = "pkcs11:object=" + std::string(len, 'k');
        const Bytes der = der_of(uri);
        BIO* bio = BIO_new(BIO_s_mem());
        ASSERT_NE(bio, nullptr);
        ASSERT_GT(PEM_write_bio(bio, std::string(uri_pem::kPemLabel).c_str(), "", der.data(),
                                static_cast<long>(der.size())),
                  0);
        char* data = nullptr;
        const long n = BIO_get_mem_data(bio, &data);
        const std::string expected(data, static_cast<std::size_t>(n));
        BIO_free(bio);
        auto pem = uri_pem::encode_pem(uri);
        ASSERT_TRUE(pem.ok());
        EXPECT_EQ(pem.value(), expected) << len;
    }
}

TEST(UriPem, PemReadsBackThroughOpenSsl) {
    auto pem = uri_pem::encode_pem(kUri);
    ASSERT_TRUE(pem.ok());
    BIO* bio = BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size()));
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    ASSERT_EQ(PEM_read_bio(bio, &name, &header, &data, &len), 1);
    EXPECT_STREQ(name, "PKCS#11 PROVIDER URI");
    auto uri = uri_pem::decode_der(Bytes(data, data + len));
    ASSERT_TRUE(uri.ok());
    EXPECT_EQ(uri.value(), kUri);
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    BIO_free(bio);
}

// A key-reference file as latchset/pkcs11-provider writes it (same DER, here produced
// independently with `openssl asn1parse -genconf`), with latchset's attribute order.
TEST(UriPem, ReadsLatchsetFiles) {
    const std::string pem = "-----BEGIN PKCS#11 PROVIDER URI-----\n"
                            "MIGhGhlQS0NTIzExIFByb3ZpZGVyIFVSSSB2MS4wDIGDcGtjczExOm1vZGVsPVNv\n"
                            "ZnRIU00lMjB2MjttYW51ZmFjdHVyZXI9U29mdEhTTSUyMHByb2plY3Q7c2VyaWFs\n"
                            "PTk1ZWY4NGM2OWZjOTZkYmY7dG9rZW49aHNtcC10ZXN0O2lkPSUwNTtvYmplY3Q9\n"
                            "ZWMtcDM4NDt0eXBlPXByaXZhdGU=\n"
                            "-----END PKCS#11 PROVIDER URI-----\n";
    const std::string latch =
        "pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=95ef84c69fc96dbf;"
        "token=hsmp-test;id=%05;object=ec-p384;type=private";
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    ASSERT_EQ(PEM_read_bio(bio, &name, &header, &data, &len), 1);
    EXPECT_STREQ(name, "PKCS#11 PROVIDER URI");
    auto uri = uri_pem::decode_der(Bytes(data, data + len));
    ASSERT_TRUE(uri.ok()) << uri.error().message();
    EXPECT_EQ(uri.value(), latch);
    // And our encoder writes the very same file for that URI.
    auto ours = uri_pem::encode_pem(latch);
    ASSERT_TRUE(ours.ok());
    EXPECT_EQ(ours.value(), pem);
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    BIO_free(bio);
}

TEST(UriPem, EncoderRefusesBadUris) {
    EXPECT_FALSE(uri_pem::encode_der("").ok());
    EXPECT_FALSE(uri_pem::encode_der(std::string("pkcs11:\0x", 9)).ok());
    EXPECT_FALSE(uri_pem::encode_der("pkcs11:object=\xff").ok());
    EXPECT_FALSE(uri_pem::encode_der(std::string(uri_pem::kMaxUriLength + 1, 'a')).ok());
    EXPECT_TRUE(uri_pem::encode_der("pkcs11:object=caf\xc3\xa9").ok());
}

struct Malformed {
    const char* name;
    Bytes der;
};

std::vector<Malformed> malformed_cases() {
    const Bytes good = handmade(uri_pem::kDescription, kUri);
    std::vector<Malformed> cases;
    cases.push_back({"empty", {}});
    cases.push_back({"one byte", {0x30}});
    cases.push_back({"not a sequence", Bytes{0x31, 0x00}});
    cases.push_back({"empty sequence", Bytes{0x30, 0x00}});
    Bytes truncated = good;
    truncated.pop_back();
    cases.push_back({"truncated", truncated});
    Bytes trailing = good;
    trailing.push_back(0x00);
    cases.push_back({"trailing byte", trailing});
    Bytes longer = good;
    longer[1] = static_cast<std::uint8_t>(longer[1] + 1);
    cases.push_back({"outer length too long", longer});
    Bytes shorter = good;
    shorter[1] = static_cast<std::uint8_t>(shorter[1] - 1);
    cases.push_back({"outer length too short", shorter});
    Bytes indefinite = good;
    indefinite[1] = 0x80;
    cases.push_back({"indefinite length", indefinite});
    Bytes nonminimal{0x30, 0x81, good[1]};
    nonminimal.insert(nonminimal.end(), good.begin() + 2, good.end());
    cases.push_back({"non-minimal long length", nonminimal});
    Bytes leadingzero{0x30, 0x82, 0x00, good[1]};
    leadingzero.insert(leadingzero.end(), good.begin() + 2, good.end());
    cases.push_back({"long length with leading zero", leadingzero});
    cases.push_back({"huge length", Bytes{0x30, 0x84, 0xff, 0xff, 0xff, 0xff}});
    cases.push_back({"wrong description", handmade("PKCS#11 Provider URI v2.0", kUri)});
    cases.push_back({"empty description", handmade("", kUri)});
    cases.push_back({"empty uri", handmade(uri_pem::kDescription, "")});
    cases.push_back({"uri with NUL", handmade(uri_pem::kDescription, std::string("pk\0x", 4))});
    cases.push_back({"uri not UTF-8", handmade(uri_pem::kDescription, "pkcs11:\xc0\xaf")});
    Bytes swapped = good;
    swapped[2] = 0x0c; // description as UTF8String
    cases.push_back({"description with the wrong tag", swapped});
    Bytes uritag = good;
    uritag[4 + uri_pem::kDescription.size()] = 0x16; // URI as IA5String
    cases.push_back({"uri with the wrong tag", uritag});
    Bytes extra = handmade(uri_pem::kDescription, kUri);
    extra.push_back(0x05);
    extra.push_back(0x00);
    extra[1] = static_cast<std::uint8_t>(extra[1] + 2);
    cases.push_back({"third element", extra});
    Bytes only_desc{0x30, static_cast<std::uint8_t>(2 + uri_pem::kDescription.size()), 0x1a,
                    static_cast<std::uint8_t>(uri_pem::kDescription.size())};
    only_desc.insert(only_desc.end(), uri_pem::kDescription.begin(), uri_pem::kDescription.end());
    cases.push_back({"no uri", only_desc});
    return cases;
}

TEST(UriPem, RefusesMalformedDer) {
    for (const Malformed& m : malformed_cases()) {
        auto r = uri_pem::decode_der(m.der);
        ASSERT_FALSE(r.ok()) << m.name;
        EXPECT_EQ(r.error().code(), hsmp::Code::InvalidArgument) << m.name;
        EXPECT_EQ(r.error().message().find("ec-p256"), std::string::npos)
            << m.name << ": the message must not echo the content";
    }
}

// Every prefix of a valid encoding is refused, and no prefix reads past its end (ASan).
TEST(UriPem, RefusesEveryTruncation) {
    const Bytes good = der_of(std::string(200, 'z'));
    for (std::size_t n = 0; n < good.size(); ++n) {
        const Bytes prefix(good.begin(), good.begin() + static_cast<long>(n));
        EXPECT_FALSE(uri_pem::decode_der(prefix).ok()) << n;
    }
}

} // namespace
