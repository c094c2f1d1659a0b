// Reads a real-token fixture's fixture.env (written by tests/fixtures/*-token.sh) and
// exposes it to a test: module path, init args, token label and serial, PIN file. The
// process environment gets the fixture's module variables (SOFTHSM2_CONF,
// P11_KIT_SERVER_ADDRESS) so the module finds the private token directory.
#pragma once

#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

namespace hsmp::test {

class FixtureEnv {
public:
    /// Loads the file named by $HSMP_FIXTURE_ENV (or `path` when given). Returns nullopt
    /// when no fixture is configured.
    static std::optional<FixtureEnv> load(const char* variable = "HSMP_FIXTURE_ENV") {
        const char* path = std::getenv(variable);
        if (path == nullptr || *path == '\0') {
            return std::nullopt;
        }
        return from_file(path);
    }

    static FixtureEnv from_file(const std::string& path) {
        std::ifstream in(path);
        if (!in) {
            throw std::runtime_error("cannot read fixture env " + path);
        }
        FixtureEnv env;
        std::string line;
        while (std::getline(in, line)) {
            const auto eq = line.find('=');
            if (line.empty() || line[0] == '#' || eq == std::string::npos) {
                continue;
            }
            env.m_vars[line.substr(0, eq)] = line.substr(eq + 1);
        }
        for (const char* name : {"SOFTHSM2_CONF", "P11_KIT_SERVER_ADDRESS"}) {
            if (auto it = env.m_vars.find(name); it != env.m_vars.end()) {
                setenv(name, it->second.c_str(), 1);
            }
        }
        return env;
    }

    [[nodiscard]] std::string get(const std::string& key) const {
        auto it = m_vars.find(key);
        if (it == m_vars.end()) {
            throw std::runtime_error("fixture env has no " + key);
        }
        return it->second;
    }
    [[nodiscard]] std::string get_or(const std::string& key, std::string fallback) const {
        auto it = m_vars.find(key);
        return it == m_vars.end() ? fallback : it->second;
    }
    [[nodiscard]] std::string kind() const { return get("HSMP_TEST_KIND"); }
    [[nodiscard]] std::string module() const { return get("HSMP_TEST_MODULE"); }
    [[nodiscard]] std::string init_args() const { return get_or("HSMP_TEST_INIT_ARGS", ""); }
    [[nodiscard]] std::string token_label() const { return get("HSMP_TEST_TOKEN_LABEL"); }
    [[nodiscard]] std::string token_serial() const { return get("HSMP_TEST_TOKEN_SERIAL"); }
    [[nodiscard]] std::string pin_file() const { return get("HSMP_TEST_PIN_FILE"); }
    [[nodiscard]] std::string dir() const { return get("HSMP_TEST_DIR"); }

private:
    std::map<std::string, std::string> m_vars;
};

} // namespace hsmp::test
