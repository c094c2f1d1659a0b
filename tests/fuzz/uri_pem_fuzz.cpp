// libFuzzer target for the key-reference DER reader (ops/uri_pem): the bytes inside a
// "PKCS#11 PROVIDER URI" PEM block, which OpenSSL hands the provider's decoder from any file
// an application is asked to load.
//
// Beyond "does not crash" (the sanitizers catch memory and UB errors), every input checks, and
// abort()s when one fails:
//   - a refusal says why in a bounded, one-line, printable message that starts by naming the
//     format (the messages are fixed texts: nothing of the input is quoted);
//   - an accepted input is the canonical DER of what it decoded to (strict DER has exactly one
//     encoding, so encode_der of the result gives back the input byte for byte);
//   - the decoded URI is within the documented length cap and holds no NUL byte;
//   - encode_pem of it produces the BEGIN/END framing the format defines.
#include "ops/uri_pem.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>

namespace {

namespace pem = hsmp::ops::uri_pem;

void require(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "uri_pem_fuzz: property failed: %s\n", what);
        std::abort();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> der(data, size);
    auto decoded = pem::decode_der(der);
    if (!decoded) {
        const std::string& why = decoded.error().message();
        require(why.starts_with("key-reference PEM: ") && why.size() < 256,
                "refusal message unnamed or unbounded");
        for (const char c : why) {
            require(c >= 0x20 && c < 0x7f, "refusal message holds a control or non-ASCII byte");
        }
        return 0;
    }
    const std::string& uri = decoded.value();
    require(!uri.empty() && uri.size() <= pem::kMaxUriLength, "decoded URI length");
    require(uri.find('\0') == std::string::npos, "decoded URI holds a NUL byte");
    auto again = pem::encode_der(uri);
    require(static_cast<bool>(again), "decoded URI does not encode back");
    require(again.value().size() == size &&
                std::equal(again.value().begin(), again.value().end(), data),
            "accepted DER is not the canonical encoding of its URI");
    auto text = pem::encode_pem(uri);
    require(static_cast<bool>(text), "decoded URI does not encode to PEM");
    require(text.value().starts_with("-----BEGIN PKCS#11 PROVIDER URI-----\n") &&
                text.value().ends_with("-----END PKCS#11 PROVIDER URI-----\n"),
            "PEM framing");
    return 0;
}
