#include "pkcs11/pin.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace hsmp::p11 {

namespace {

constexpr std::size_t kMaxPinFile = 4096;

} // namespace

Result<Pin> read_pin_file(const std::string& path, std::string_view what) {
    const std::string label = std::string(what) + " \"" + path + "\"";
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        const int err = errno;
        return Error(err == ENOENT ? Code::NotFound : Code::Unauthenticated,
                     "cannot read PIN from " + label + ": " + errno_text(err));
    }
    std::array<char, kMaxPinFile + 1> buf{};
    std::size_t len = 0;
    while (len < buf.size()) {
        const ssize_t n = ::read(fd, buf.data() + len, buf.size() - len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            const int err = errno;
            ::close(fd);
            secure_wipe(buf.data(), buf.size());
            return Error(Code::Unauthenticated,
                         "cannot read PIN from " + label + ": " + errno_text(err));
        }
        if (n == 0) {
            break;
        }
        len += static_cast<std::size_t>(n);
    }
    ::close(fd);
    if (len > kMaxPinFile) {
        secure_wipe(buf.data(), buf.size());
        return Error(Code::InvalidArgument, "PIN file " + label + " is larger than " +
                                                std::to_string(kMaxPinFile) + " bytes");
    }
    if (len > 0 && buf[len - 1] == '\n') {
        --len;
        if (len > 0 && buf[len - 1] == '\r') {
            --len;
        }
    }
    if (len == 0) {
        return Error(Code::Unauthenticated, "PIN file " + label + " is empty");
    }
    Pin pin{SecureBuffer(std::string_view(buf.data(), len)), label};
    secure_wipe(buf.data(), buf.size());
    return pin;
}

Result<Pin> read_pin_source(std::string_view pin_source) {
    std::string_view path = pin_source;
    if (path.starts_with("file:")) {
        path.remove_prefix(5);
        // file:///path and file:/path both name /path.
        if (path.starts_with("//")) {
            path.remove_prefix(2);
        }
    }
    if (path.empty() || path.front() != '/') {
        return Error(Code::InvalidArgument, "pin-source \"" + std::string(pin_source) +
                                                "\" must be an absolute file path or a file: URI");
    }
    return read_pin_file(std::string(path), "pin-source file");
}

Result<Pin> config_pin(std::string_view value) {
    if (value.starts_with("file:")) {
        std::string_view path = value.substr(5);
        if (path.starts_with("//")) {
            path.remove_prefix(2);
        }
        return read_pin_file(std::string(path), "pkcs11-module-token-pin file");
    }
    if (value.empty()) {
        return Error(Code::InvalidArgument, "pkcs11-module-token-pin is empty");
    }
    return Pin{SecureBuffer(value), "pkcs11-module-token-pin"};
}

} // namespace hsmp::p11
