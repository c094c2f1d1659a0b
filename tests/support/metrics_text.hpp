// Reading the provider's Prometheus text in tests: one sample's value by its exact series
// (name and label set as rendered), how often a series appears, and the strict format
// check of tests/support/promcheck.py (HSMP_PYTHON3 and HSMP_PROMCHECK name the
// interpreter and the script).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace hsmp::test {

/// The value of the sample line that starts with `series` + " ", or nullopt.
inline std::optional<std::uint64_t> sample_value(const std::string& text,
                                                 const std::string& series) {
    std::istringstream in(text);
    std::string line;
    const std::string prefix = series + " ";
    while (std::getline(in, line)) {
        if (line.rfind(prefix, 0) == 0) {
            return std::stoull(line.substr(prefix.size()));
        }
    }
    return std::nullopt;
}

/// Lines that start with `prefix`.
inline int count_lines(const std::string& text, const std::string& prefix) {
    std::istringstream in(text);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
        n += line.rfind(prefix, 0) == 0 ? 1 : 0;
    }
    return n;
}

/// Runs the strict format checker on `text`; returns its exit status (0: valid) and puts
/// what it printed in `report`.
inline int promcheck(const std::string& text, std::string& report) {
    char path[] = "/tmp/hsmp-metrics-XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0) {
        report = "mkstemp failed";
        return -1;
    }
    close(fd);
    std::ofstream(path, std::ios::binary) << text;
    const std::string cmd = std::string(HSMP_PYTHON3) + " " + HSMP_PROMCHECK + " " + path + " 2>&1";
    FILE* pipe = popen(cmd.c_str(), "r");
    if (pipe == nullptr) {
        unlink(path);
        report = "popen failed";
        return -1;
    }
    char buf[512];
    report.clear();
    while (fgets(buf, sizeof buf, pipe) != nullptr) {
        report += buf;
    }
    const int status = pclose(pipe);
    unlink(path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

} // namespace hsmp::test
