// core/atomic_file.cpp — tmp + write + fsync + rename + fsync(dir).
#include "core/atomic_file.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace cartero {

namespace {
[[noreturn]] void sys_fail(const std::string& what, const std::string& path) {
    throw std::runtime_error("cannot write " + path + ": " + what + ": " + std::strerror(errno));
}
} // namespace

void write_file_atomically(const std::string& path, std::string_view data, mode_t mode) {
    // mkstemp: a unique name (two writers never share a tmp), created 0600 until fchmod.
    std::string tmp = path + ".tmp.XXXXXX";
    int fd = ::mkstemp(tmp.data());
    if (fd < 0) sys_fail("create a temporary file", path);
    auto cleanup = [&](const char* what) {
        int saved = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        errno = saved;
        sys_fail(what, tmp);
    };
    if (::fchmod(fd, mode) != 0) cleanup("fchmod");
    std::size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) cleanup("write");
        off += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) cleanup("fsync");
    if (::close(fd) != 0) {
        ::unlink(tmp.c_str());
        sys_fail("close", tmp);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int saved = errno;
        ::unlink(tmp.c_str());
        errno = saved;
        sys_fail("rename", path);
    }
    // The rename is durable only once the directory entry is.
    auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) sys_fail("open directory", dir);
    int rc = ::fsync(dfd);
    ::close(dfd);
    if (rc != 0) sys_fail("fsync directory", dir);
}

void fsync_directory(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        throw std::runtime_error("cannot open directory " + dir + ": " + std::strerror(errno));
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0)
        throw std::runtime_error("cannot fsync directory " + dir + ": " + std::strerror(err));
}

} // namespace cartero
