// Collects the provider's configuration section as key/value pairs. OpenSSL 3.0 gives a
// provider its openssl.cnf values only by name (core_get_params), so the known keys are
// asked for by name, and the section itself is read from the configuration file to find
// keys that are not known (an unknown key is a load error naming it, DESIGN.md section 2).
#pragma once

#include "abi/core.hpp"

#include <string>
#include <utility>
#include <vector>

namespace hsmp::abi {

[[nodiscard]] std::vector<std::pair<std::string, std::string>>
read_provider_section(const CoreFunctions& core);

} // namespace hsmp::abi
