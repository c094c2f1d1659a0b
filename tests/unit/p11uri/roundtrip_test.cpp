// parse(format(u)) == u over a few thousand pseudo-random Uri values (fixed seed, so a failure
// reproduces). Values are drawn mostly from the bytes that matter to the grammar: separators,
// "%", "=", whitespace, NUL, high bytes.
#include "p11uri/uri.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <string>
#include <vector>

namespace hsmp::uri {
namespace {

class Generator {
public:
    explicit Generator(std::uint32_t seed) : m_rng(seed) {}

    Uri uri() {
        Uri u;
        maybe(u.token);
        maybe(u.manufacturer);
        maybe(u.serial);
        maybe(u.model);
        maybe(u.library_manufacturer);
        maybe(u.library_description);
        if (coin()) {
            u.library_version = Version{byte(), byte()};
        }
        maybe(u.object);
        if (coin()) {
            u.type = static_cast<ObjectType>(below(5));
        }
        if (coin()) {
            const std::string s = text();
            u.id.emplace(s.begin(), s.end());
        }
        maybe(u.slot_description);
        maybe(u.slot_manufacturer);
        if (coin()) {
            u.slot_id = below(3) == 0 ? std::numeric_limits<std::uint64_t>::max() : m_rng();
        }
        maybe(u.pin_source);
        maybe(u.pin_value);
        maybe(u.module_name);
        maybe(u.module_path);
        vendors(u.vendor_path);
        vendors(u.vendor_query);
        return u;
    }

private:
    bool coin() { return below(2) == 0; }
    std::uint32_t below(std::uint32_t n) {
        return std::uniform_int_distribution<std::uint32_t>{0, n - 1}(m_rng);
    }
    std::uint8_t byte() { return static_cast<std::uint8_t>(below(256)); }

    std::string text() {
        static constexpr std::string_view kSpecial = ";?&=%/#: \t\n\"'|[]@!$()*+,~._-\\";
        const std::uint32_t len = below(4) == 0 ? 0 : below(16);
        std::string s;
        for (std::uint32_t i = 0; i < len; ++i) {
            switch (below(3)) {
            case 0:
                s += kSpecial[below(static_cast<std::uint32_t>(kSpecial.size()))];
                break;
            case 1:
                s += static_cast<char>('a' + below(26));
                break;
            default:
                s += static_cast<char>(byte()); // anything, NUL and high bytes included
                break;
            }
        }
        return s;
    }

    void maybe(std::optional<std::string>& field) {
        if (coin()) {
            field = text();
        }
    }

    void vendors(std::vector<std::pair<std::string, std::string>>& out) {
        static constexpr std::string_view kNameChars =
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
        const std::uint32_t n = below(4);
        for (std::uint32_t i = 0; i < n; ++i) {
            std::string name = coin() ? "x-" : "X-";
            const std::uint32_t len = 1 + below(6);
            for (std::uint32_t j = 0; j < len; ++j) {
                name += kNameChars[below(static_cast<std::uint32_t>(kNameChars.size()))];
            }
            name += std::to_string(i); // unique within the component
            out.emplace_back(std::move(name), text());
        }
    }

    std::mt19937 m_rng;
};

constexpr int kIterations = 5000;

TEST(RoundTrip, RandomUrisSurviveFormatAndParse) {
    Generator gen{20240611};
    for (int i = 0; i < kIterations; ++i) {
        const Uri u = gen.uri();
        const std::string text = format(u);
        const ParseResult r = parse(text);
        ASSERT_TRUE(r) << "iteration " << i << ": " << r.error.message;
        ASSERT_EQ(*r.uri, u) << "iteration " << i << ": " << text;
        ASSERT_EQ(format(*r.uri), text) << "iteration " << i;
    }
}

TEST(RoundTrip, RandomUrisRedactedHaveNoPin) {
    Generator gen{7512};
    for (int i = 0; i < kIterations; ++i) {
        Uri u = gen.uri();
        const std::string redacted = format_redacted(u);
        const ParseResult r = parse(redacted);
        ASSERT_TRUE(r) << r.error.message;
        EXPECT_FALSE(r.uri->pin_value.has_value()) << redacted;
        EXPECT_FALSE(r.uri->pin_source.has_value()) << redacted;
        // Everything else survives redaction.
        Uri expected = u;
        expected.pin_value.reset();
        expected.pin_source.reset();
        ASSERT_EQ(*r.uri, expected) << "iteration " << i;
        // Non-interference: another PIN gives the same text.
        u.pin_value = "a-different-pin";
        ASSERT_EQ(format_redacted(u), redacted) << "iteration " << i;
    }
}

TEST(RoundTrip, RandomUrisInNarrowScopesKeepTheirSubset) {
    Generator gen{42};
    for (int i = 0; i < kIterations; ++i) {
        const Uri u = gen.uri();

        Uri token_part;
        token_part.token = u.token;
        token_part.manufacturer = u.manufacturer;
        token_part.serial = u.serial;
        token_part.model = u.model;
        token_part.library_manufacturer = u.library_manufacturer;
        token_part.library_description = u.library_description;
        token_part.library_version = u.library_version;
        token_part.slot_description = u.slot_description;
        token_part.slot_manufacturer = u.slot_manufacturer;
        token_part.slot_id = u.slot_id;
        token_part.module_name = u.module_name;
        token_part.module_path = u.module_path;
        const ParseResult t = parse(format(u, Scope::Token));
        ASSERT_TRUE(t) << t.error.message;
        ASSERT_EQ(*t.uri, token_part) << "iteration " << i;

        Uri module_part;
        module_part.library_manufacturer = u.library_manufacturer;
        module_part.library_description = u.library_description;
        module_part.library_version = u.library_version;
        module_part.module_name = u.module_name;
        module_part.module_path = u.module_path;
        const ParseResult m = parse(format(u, Scope::Module));
        ASSERT_TRUE(m) << m.error.message;
        ASSERT_EQ(*m.uri, module_part) << "iteration " << i;
    }
}

} // namespace
} // namespace hsmp::uri
