// Shared helpers for the p11uri tests: readable gtest output for Uri values.
#pragma once

#include "p11uri/uri.hpp"

#include <ostream>

namespace hsmp::uri {

// gtest finds these through ADL; without them a failed EXPECT_EQ prints raw object bytes.
inline void PrintTo(const Uri& u, std::ostream* os) {
    *os << format(u);
    if (!u.vendor_path.empty() || !u.vendor_query.empty()) {
        *os << " (" << u.vendor_path.size() << " vendor path, " << u.vendor_query.size()
            << " vendor query)";
    }
}

inline void PrintTo(ParseErrorKind k, std::ostream* os) {
    *os << kind_name(k);
}

} // namespace hsmp::uri
