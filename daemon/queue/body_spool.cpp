// daemon/queue/body_spool.cpp — spool/<queue id> files: write, syncfs per group, read, reuse or unlink.
#include "daemon/queue/body_spool.hpp"

#include "core/atomic_file.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
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

// Reads up to max_bytes of fd and closes it; nullopt when `name` (at dirfd) no longer refers to
// the file read: it was removed meanwhile, and may already hold another message (reuse pool).
std::optional<std::string> read_all(int fd, const std::filesystem::path& path, std::size_t max_bytes,
                                    int dirfd, const char* name) {
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
    // remove() moves the file away before write() overwrites it under another name, so if the
    // name still leads to this inode now, no overwrite had started while we read.
    struct stat now {};
    if (::fstatat(dirfd, name, &now, AT_SYMLINK_NOFOLLOW) != 0 || now.st_ino != sb.st_ino ||
        now.st_dev != sb.st_dev)
        return std::nullopt;
    out.resize(got);
    return out;
}

// The names in the directory at fd (path: for errors) that keep(name) accepts.
template <class Keep>
std::vector<std::string> directory_names(int fd, const std::filesystem::path& path, Keep keep) {
    std::vector<std::string> out;
    int list_fd = ::openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (list_fd < 0) throw sys_failure("cannot open", path, errno);
    DIR* d = ::fdopendir(list_fd);
    if (!d) {
        int err = errno;
        ::close(list_fd);
        throw sys_failure("cannot list", path, err);
    }
    while (const dirent* e = ::readdir(d))
        if (keep(std::string_view(e->d_name))) out.emplace_back(e->d_name);
    ::closedir(d);
    return out;
}

// Removes every entry of the directory at fd (the reuse pool's leftovers of the last run).
void empty_directory(int fd, const std::filesystem::path& path) {
    const auto names = directory_names(fd, path, [](std::string_view n) { return n != "." && n != ".."; });
    for (const auto& n : names)
        if (::unlinkat(fd, n.c_str(), 0) != 0 && errno != ENOENT)
            throw sys_failure("cannot remove", path / n, errno);
}

// mkdir 0700 unless it exists; a new directory's name is made durable.
void make_private_dir(const std::filesystem::path& dir) {
    if (::mkdir(dir.c_str(), 0700) == 0) {
        fsync_directory(dir.has_parent_path() ? dir.parent_path().string() : std::string("."));
    } else if (errno != EEXIST) {
        throw sys_failure("cannot create", dir, errno);
    }
}

} // namespace

bool spool_name_ok(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    for (char c : id)
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
            return false;
    return true;
}

body_spool::body_spool(std::filesystem::path dir)
    : dir_(std::move(dir)), reuse_dir_(dir_.string() + "-reuse") {
    make_private_dir(dir_);
    make_private_dir(reuse_dir_);
    dir_fd_ = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd_ < 0) throw sys_failure("cannot open", dir_, errno);
    reuse_fd_ = ::open(reuse_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (reuse_fd_ < 0) {
        int err = errno;
        ::close(dir_fd_);
        throw sys_failure("cannot open", reuse_dir_, err);
    }
    try {
        empty_directory(reuse_fd_, reuse_dir_);
    } catch (...) {
        ::close(dir_fd_);
        ::close(reuse_fd_);
        throw;
    }
}

body_spool::~body_spool() {
    if (dir_fd_ >= 0) ::close(dir_fd_);
    if (reuse_fd_ >= 0) ::close(reuse_fd_);
}

std::optional<std::size_t> body_spool::take_reusable(const std::string& id) const {
    reusable r;
    {
        std::lock_guard lk(reuse_mu_);
        if (reuse_.empty()) return std::nullopt;
        r = std::move(reuse_.back());
        reuse_.pop_back();
        reuse_bytes_ -= r.size;
    }
    if (::renameat2(reuse_fd_, r.name.c_str(), dir_fd_, id.c_str(), RENAME_NOREPLACE) != 0) {
        ::unlinkat(reuse_fd_, r.name.c_str(), 0); // never keep a file the pool lost track of
        return std::nullopt;
    }
    return r.size;
}

std::size_t body_spool::reusable_files() const {
    std::lock_guard lk(reuse_mu_);
    return reuse_.size();
}

void body_spool::write(const std::string& id, std::string_view body) const {
    if (!spool_name_ok(id)) throw std::runtime_error("queue spool: unusable queue id `" + id + "`");
    auto fail = [&](const char* what, int err) {
        ::unlinkat(dir_fd_, id.c_str(), 0);
        return sys_failure(what, dir_ / id, err);
    };
    const std::optional<std::size_t> old_size = take_reusable(id);
    int fd = old_size ? ::openat(dir_fd_, id.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW)
                      : ::openat(dir_fd_, id.c_str(),
                                 O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int err = errno;
        if (old_size) throw fail("cannot open", err);
        throw sys_failure("cannot create", dir_ / id, err); // not ours: leave it
    }
    std::size_t done = 0;
    while (done < body.size()) {
        ssize_t n = ::write(fd, body.data() + done, body.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int err = n < 0 ? errno : EIO;
            ::close(fd);
            throw fail("cannot write", err);
        }
        done += static_cast<std::size_t>(n);
    }
    // A reused file longer than this body keeps no octet of the message it held before.
    if (old_size && *old_size > body.size() &&
        ::ftruncate(fd, static_cast<off_t>(body.size())) != 0) {
        int err = errno;
        ::close(fd);
        throw fail("cannot truncate", err);
    }
    if (::close(fd) != 0) throw fail("cannot close", errno);
}

void body_spool::sync() const {
    if (::syncfs(dir_fd_) != 0) throw sys_failure("syncfs failed on", dir_, errno);
}

bool body_spool::remove(const std::string& id) const noexcept {
    if (!spool_name_ok(id)) return false;
    struct stat sb {};
    if (::fstatat(dir_fd_, id.c_str(), &sb, AT_SYMLINK_NOFOLLOW) != 0) return errno == ENOENT;
    const auto size = static_cast<std::size_t>(sb.st_size);
    if (S_ISREG(sb.st_mode) && size <= reuse_max_file_bytes) {
        try {
            std::string name;
            {
                std::lock_guard lk(reuse_mu_);
                if (reuse_.size() < reuse_max_files && reuse_bytes_ + size <= reuse_max_bytes) {
                    name = "r" + std::to_string(++reuse_seq_);
                    reuse_.reserve(reuse_.size() + 1); // the push below must not throw
                }
            }
            if (!name.empty() &&
                ::renameat2(dir_fd_, id.c_str(), reuse_fd_, name.c_str(), RENAME_NOREPLACE) == 0) {
                std::lock_guard lk(reuse_mu_);
                reuse_.push_back({std::move(name), size});
                reuse_bytes_ += size;
                return true;
            }
        } catch (const std::exception&) {
            // out of memory: unlink below
        }
    }
    return ::unlinkat(dir_fd_, id.c_str(), 0) == 0 || errno == ENOENT;
}

std::vector<std::string> body_spool::list() const {
    return directory_names(dir_fd_, dir_, spool_name_ok); // "." and ".." are no queue ids
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
    auto body = read_all(fd, path, max_bytes, AT_FDCWD, path.c_str());
    if (!body) throw sys_failure("cannot read", path, ENOENT); // removed while being read
    return std::move(*body);
}

std::optional<std::string> body_spool::read(const std::string& id) const {
    if (!spool_name_ok(id)) return std::nullopt;
    int fd = ::openat(dir_fd_, id.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT) return std::nullopt;
        throw sys_failure("cannot open", dir_ / id, errno);
    }
    return read_all(fd, dir_ / id, static_cast<std::size_t>(-1), dir_fd_, id.c_str());
}

} // namespace cartero::queue
