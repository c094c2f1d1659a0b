// The key-reference file format (DESIGN.md section 1): a PEM block labelled
// "PKCS#11 PROVIDER URI" whose DER is
//
//     SEQUENCE { desc VisibleString "PKCS#11 Provider URI v1.0", uri UTF8String }
//
// byte-compatible with latchset/pkcs11-provider, so files written by either provider load in
// both. The file names a key; it never holds key material. Pure functions: no token, no
// OpenSSL state, so the parser can be tested (and fuzzed) on its own.
#pragma once

#include "common/result.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hsmp::ops::uri_pem {

/// The PEM label ("-----BEGIN PKCS#11 PROVIDER URI-----").
inline constexpr std::string_view kPemLabel = "PKCS#11 PROVIDER URI";
/// The fixed description string, the SEQUENCE's first element.
inline constexpr std::string_view kDescription = "PKCS#11 Provider URI v1.0";
/// The data-structure name the PEM decoder gives the DER to the next decoder; the same name
/// latchset/pkcs11-provider uses, so either provider's second stage can take it.
inline constexpr std::string_view kDerStructure = "pk11-uri";
/// Longest URI accepted in either direction. Real key URIs are a few hundred bytes; the cap
/// keeps a hostile file from making the decoder allocate much.
inline constexpr std::size_t kMaxUriLength = 16 * 1024;

/// The DER SEQUENCE for `uri`. InvalidArgument when the URI is empty, longer than
/// kMaxUriLength, not valid UTF-8 or contains a NUL byte.
[[nodiscard]] Result<std::vector<std::uint8_t>> encode_der(std::string_view uri);

/// The URI inside a DER SEQUENCE. Strict DER: definite minimal lengths, exactly two elements
/// with the expected tags, the exact description string, a non-empty UTF-8 URI without NUL,
/// and no byte after the SEQUENCE. Errors are InvalidArgument and say what was wrong (never
/// echoing the content).
[[nodiscard]] Result<std::string> decode_der(std::span<const std::uint8_t> der);

/// The whole PEM text: BEGIN line, base64 of encode_der(uri) in 64-column lines, END line,
/// each ending in "\n" — the same bytes PEM_write_bio() writes.
[[nodiscard]] Result<std::string> encode_pem(std::string_view uri);

} // namespace hsmp::ops::uri_pem
