#include "ops/uri_pem.hpp"

#include <algorithm>
#include <array>
#include <optional>

namespace hsmp::ops::uri_pem {
namespace {

constexpr std::uint8_t kTagSequence = 0x30;
constexpr std::uint8_t kTagUtf8String = 0x0c;
constexpr std::uint8_t kTagVisibleString = 0x1a;

// DER length octets: short form below 128, otherwise the minimal long form.
void put_length(std::vector<std::uint8_t>& out, std::size_t len) {
    if (len < 0x80) {
        out.push_back(static_cast<std::uint8_t>(len));
        return;
    }
    std::array<std::uint8_t, sizeof(std::size_t)> bytes{};
    std::size_t n = 0;
    for (std::size_t v = len; v != 0; v >>= 8U) {
        bytes.at(n++) = static_cast<std::uint8_t>(v & 0xffU);
    }
    out.push_back(static_cast<std::uint8_t>(0x80U | n));
    while (n > 0) {
        out.push_back(bytes.at(--n));
    }
}

void put_tlv(std::vector<std::uint8_t>& out, std::uint8_t tag, std::string_view value) {
    out.push_back(tag);
    put_length(out, value.size());
    out.insert(out.end(), value.begin(), value.end());
}

// RFC 3629 UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t extra = 0;
        std::uint32_t cp = 0;
        std::uint32_t min = 0;
        if (c < 0x80) {
            ++i;
            continue;
        }
        if ((c & 0xe0U) == 0xc0U) {
            extra = 1;
            cp = c & 0x1fU;
            min = 0x80;
        } else if ((c & 0xf0U) == 0xe0U) {
            extra = 2;
            cp = c & 0x0fU;
            min = 0x800;
        } else if ((c & 0xf8U) == 0xf0U) {
            extra = 3;
            cp = c & 0x07U;
            min = 0x10000;
        } else {
            return false;
        }
        if (s.size() - i <= extra) {
            return false;
        }
        for (std::size_t k = 1; k <= extra; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xc0U) != 0x80U) {
                return false;
            }
            cp = (cp << 6U) | (cc & 0x3fU);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += extra + 1;
    }
    return true;
}

Result<void> check_uri(std::string_view uri) {
    if (uri.empty()) {
        return Error(Code::InvalidArgument, "key-reference PEM: the URI is empty");
    }
    if (uri.size() > kMaxUriLength) {
        return Error(Code::InvalidArgument, "key-reference PEM: the URI is longer than " +
                                                std::to_string(kMaxUriLength) + " bytes");
    }
    if (uri.find('\0') != std::string_view::npos) {
        return Error(Code::InvalidArgument, "key-reference PEM: the URI contains a NUL byte");
    }
    if (!valid_utf8(uri)) {
        return Error(Code::InvalidArgument, "key-reference PEM: the URI is not valid UTF-8");
    }
    return ok();
}

// A cursor over DER input; every read checks the remaining length first.
class Reader {
public:
    explicit Reader(std::span<const std::uint8_t> in) : m_in(in) {}

    [[nodiscard]] bool empty() const noexcept { return m_pos == m_in.size(); }
    [[nodiscard]] std::size_t offset() const noexcept { return m_pos; }

    /// Reads one TLV with the expected tag; nullopt (and `why` set) when malformed.
    std::optional<std::span<const std::uint8_t>> tlv(std::uint8_t tag, std::string& why) {
        if (m_in.size() - m_pos < 2) {
            why = "truncated";
            return std::nullopt;
        }
        if (m_in[m_pos] != tag) {
            why = "unexpected tag";
            return std::nullopt;
        }
        ++m_pos;
        const std::uint8_t first = m_in[m_pos++];
        std::size_t len = 0;
        if (first < 0x80) {
            len = first;
        } else {
            const std::size_t n = first & 0x7fU;
            if (n == 0) {
                why = "indefinite length (not DER)";
                return std::nullopt;
            }
            if (n > 3 || m_in.size() - m_pos < n) {
                why = "length too large or truncated";
                return std::nullopt;
            }
            if (m_in[m_pos] == 0) {
                why = "non-minimal length (not DER)";
                return std::nullopt;
            }
            for (std::size_t k = 0; k < n; ++k) {
                len = (len << 8U) | m_in[m_pos++];
            }
            if (len < 0x80) {
                why = "non-minimal length (not DER)";
                return std::nullopt;
            }
        }
        if (m_in.size() - m_pos < len) {
            why = "length beyond the end of the data";
            return std::nullopt;
        }
        auto value = m_in.subspan(m_pos, len);
        m_pos += len;
        return value;
    }

private:
    std::span<const std::uint8_t> m_in;
    std::size_t m_pos = 0;
};

Error malformed(std::string_view what, std::string_view why, std::size_t offset) {
    return Error(Code::InvalidArgument, "key-reference PEM: malformed DER (" + std::string(what) +
                                            ": " + std::string(why) + " at offset " +
                                            std::to_string(offset) + ")");
}

std::string_view as_chars(std::span<const std::uint8_t> s) {
    return {reinterpret_cast<const char*>(s.data()), s.size()};
}

} // namespace

Result<std::vector<std::uint8_t>> encode_der(std::string_view uri) {
    if (auto r = check_uri(uri); !r) {
        return r.error();
    }
    std::vector<std::uint8_t> body;
    put_tlv(body, kTagVisibleString, kDescription);
    put_tlv(body, kTagUtf8String, uri);
    std::vector<std::uint8_t> out;
    out.reserve(body.size() + 6);
    out.push_back(kTagSequence);
    put_length(out, body.size());
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

Result<std::string> decode_der(std::span<const std::uint8_t> der) {
    std::string why;
    Reader outer(der);
    auto seq = outer.tlv(kTagSequence, why);
    if (!seq) {
        return malformed("SEQUENCE", why, outer.offset());
    }
    if (!outer.empty()) {
        return malformed("SEQUENCE", "trailing data", outer.offset());
    }
    const std::size_t base = der.size() - seq->size();
    Reader inner(*seq);
    auto desc = inner.tlv(kTagVisibleString, why);
    if (!desc) {
        return malformed("description", why, base + inner.offset());
    }
    if (as_chars(*desc) != kDescription) {
        return Error(Code::InvalidArgument, "key-reference PEM: the description is not \"" +
                                                std::string(kDescription) +
                                                "\" (a different format or version)");
    }
    auto uri = inner.tlv(kTagUtf8String, why);
    if (!uri) {
        return malformed("URI", why, base + inner.offset());
    }
    if (!inner.empty()) {
        return malformed("SEQUENCE", "extra element after the URI", base + inner.offset());
    }
    std::string text(as_chars(*uri));
    if (auto r = check_uri(text); !r) {
        return r.error();
    }
    return text;
}

Result<std::string> encode_pem(std::string_view uri) {
    auto der = encode_der(uri);
    if (!der) {
        return der.error();
    }
    static constexpr std::string_view kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string b64;
    const auto& d = der.value();
    for (std::size_t i = 0; i < d.size(); i += 3) {
        const std::size_t n = std::min<std::size_t>(3, d.size() - i);
        std::uint32_t v = static_cast<std::uint32_t>(d[i]) << 16U;
        if (n > 1) {
            v |= static_cast<std::uint32_t>(d[i + 1]) << 8U;
        }
        if (n > 2) {
            v |= d[i + 2];
        }
        b64.push_back(kAlphabet[(v >> 18U) & 0x3fU]);
        b64.push_back(kAlphabet[(v >> 12U) & 0x3fU]);
        b64.push_back(n > 1 ? kAlphabet[(v >> 6U) & 0x3fU] : '=');
        b64.push_back(n > 2 ? kAlphabet[v & 0x3fU] : '=');
    }
    std::string out = "-----BEGIN " + std::string(kPemLabel) + "-----\n";
    for (std::size_t i = 0; i < b64.size(); i += 64) {
        out.append(b64, i, 64);
        out.push_back('\n');
    }
    out += "-----END " + std::string(kPemLabel) + "-----\n";
    return out;
}

} // namespace hsmp::ops::uri_pem
