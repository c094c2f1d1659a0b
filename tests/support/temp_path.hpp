// A path under GoogleTest's temporary directory that belongs to this test process alone.
//
// CTest runs every discovered test case as its own process, several at once; two cases of one
// fixture that write "TempDir()/x.cnf" race, and a reader can see the file truncated by the
// other's writer (seen in CI as a provider that came up without its configuration). The
// process id keeps the files apart; the files go away when the process exits.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>
#include <string>

namespace hsmp::test {

namespace detail {
inline std::set<std::string>& temp_paths() {
    static auto* paths = new std::set<std::string>(); // outlives every static destructor
    return *paths;
}
inline std::mutex& temp_paths_lock() {
    static auto* lock = new std::mutex();
    return *lock;
}
inline pid_t& temp_paths_owner() {
    static pid_t owner = 0;
    return owner;
}
inline void remove_temp_paths() {
    const std::lock_guard<std::mutex> hold(temp_paths_lock());
    if (::getpid() != temp_paths_owner()) {
        return; // a forked child exiting: the files are its parent's
    }
    for (const std::string& p : temp_paths()) {
        std::remove(p.c_str());
    }
}
} // namespace detail

inline std::string private_temp_path(const std::string& name) {
    std::string path = ::testing::TempDir() + "hsmp-" + std::to_string(::getpid()) + "-" + name;
    const std::lock_guard<std::mutex> hold(detail::temp_paths_lock());
    if (detail::temp_paths().empty()) {
        detail::temp_paths_owner() = ::getpid();
        std::atexit(&detail::remove_temp_paths);
    }
    detail::temp_paths().insert(path);
    return path;
}

} // namespace hsmp::test
