// daemon/queue/body_spool.cpp — spool/<queue id> files: write, syncfs per group, read, unlink.
#include "daemon/queue/body_spool.hpp"

#include "core/atomic_file.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace cartero::queue {

namespace {

std::runtime_error sys_failure(const std::string& what, const std::filesystem::path& p, int err) {
    return std::runtime_error("queue spool: " + what + " " + p.string() + ": " + std::strerror(err));
}

// Reads up to max_bytes of fd and closes it.
std::string read_all(int fd, const std::filesystem::path& path, std::size_t max_bytes) {
    struct stat sb {};
    if (::fstat(fd, &sb) != 0) {
        int err = errno;
        ::close(fd);
        throw sys_failure("cannot stat", path, err);
    }
    std::string out;
    out.resize(std::min<std::size_t>(static_cast<std::size_t>(sb.st_size), max_bytes));
    std::size_t got = 0;
    while (got < out.size()) {
        ssize_t n = ::read(fd, out.data() + got, out.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int err = errno;
            ::close(fd);
            throw sys_failure("cannot read", path, err);
        }
        if (n == 0) break; // shorter than fstat said: return what is there
        got += static_cast<std::size_t>(n);
    }
    ::close(fd);
    out.resize(got);
    return out;
}

} // namespace

bool spool_name_ok(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    for (char c : id)
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
            return false;
    return true;
}

body_spool::body_spool(std::filesystem::path dir) : dir_(std::move(dir)) {
    if (::mkdir(dir_.c_str(), 0700) == 0) {
        // The new directory's name must survive a crash before the first file in it counts.
        fsync_directory(dir_.has_parent_path() ? dir_.parent_path().string() : std::string("."));
    } else if (errno != EEXIST) {
        throw sys_failure("cannot create", dir_, errno);
    }
    dir_fd_ = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd_ < 0) throw sys_failure("cannot open", dir_, errno);
}

body_spool::~body_spool() {
    if (dir_fd_ >= 0) ::close(dir_fd_);
}

void body_spool::write(const std::string& id, std::string_view body) const {
    if (!spool_name_ok(id)) throw std::runtime_error("queue spool: unusable queue id `" + id + "`");
    const auto path = dir_ / id;
    int fd = ::openat(dir_fd_, id.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) throw sys_failure("cannot create", path, errno);
    std::size_t done = 0;
    while (done < body.size()) {
        ssize_t n = ::write(fd, body.data() + done, body.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int err = n < 0 ? errno : EIO;
            ::close(fd);
            ::unlinkat(dir_fd_, id.c_str(), 0);
            throw sys_failure("cannot write", path, err);
        }
        done += static_cast<std::size_t>(n);
    }
    if (::close(fd) != 0) {
        int err = errno;
        ::unlinkat(dir_fd_, id.c_str(), 0);
        throw sys_failure("cannot close", path, err);
    }
}

void body_spool::sync() const {
    if (::syncfs(dir_fd_) != 0) throw sys_failure("syncfs failed on", dir_, errno);
}

bool body_spool::remove(const std::string& id) const noexcept {
    if (!spool_name_ok(id)) return false;
    return ::unlinkat(dir_fd_, id.c_str(), 0) == 0 || errno == ENOENT;
}

std::vector<std::string> body_spool::list() const {
    std::vector<std::string> out;
    int fd = ::openat(dir_fd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw sys_failure("cannot open", dir_, errno);
    DIR* d = ::fdopendir(fd);
    if (!d) {
        int err = errno;
        ::close(fd);
        throw sys_failure("cannot list", dir_, err);
    }
    while (const dirent* e = ::readdir(d))
        if (spool_name_ok(e->d_name)) out.emplace_back(e->d_name);
    ::closedir(d);
    return out;
}

std::filesystem::path spool_dir_of(sqlite3* db) {
    const char* f = sqlite3_db_filename(db, "main");
    std::filesystem::path p(f ? f : "");
    return (p.has_parent_path() ? p.parent_path() : std::filesystem::path(".")) / "spool";
}

std::string read_spooled_body(sqlite3* db, const std::string& id, std::size_t max_bytes) {
    const auto path = spool_dir_of(db) / id;
    if (!spool_name_ok(id)) throw std::runtime_error("queue spool: unusable queue id `" + id + "`");
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) throw sys_failure("cannot open", path, errno);
    return read_all(fd, path, max_bytes);
}

std::optional<std::string> body_spool::read(const std::string& id) const {
    if (!spool_name_ok(id)) return std::nullopt;
    int fd = ::openat(dir_fd_, id.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT) return std::nullopt;
        throw sys_failure("cannot open", dir_ / id, errno);
    }
    return read_all(fd, dir_ / id, static_cast<std::size_t>(-1));
}

} // namespace cartero::queue
