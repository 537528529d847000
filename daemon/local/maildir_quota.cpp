// daemon/local/maildir_quota.cpp — maildirsize parsing, recalculation and appends (Maildir++ quota).
#include "daemon/local/maildir_quota.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <system_error>
#include <thread>
#include <unistd.h>

namespace cartero::local {

namespace fs = std::filesystem;

namespace {

template <class T>
bool parse_number(std::string_view s, T& out) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

// Reads at most maildirsize_max_bytes + 1 bytes; nullopt when the file does not exist.
std::optional<std::string> read_small(const fs::path& p) {
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return std::nullopt;
        throw fs::filesystem_error("open", p, std::error_code(errno, std::generic_category()));
    }
    std::string buf(maildirsize_max_bytes + 1, '\0');
    std::size_t got = 0;
    while (got < buf.size()) {
        ssize_t n = ::read(fd, buf.data() + got, buf.size() - got);
        if (n < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            ::close(fd);
            throw fs::filesystem_error("read", p, std::error_code(err, std::generic_category()));
        }
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    ::close(fd);
    buf.resize(got);
    return buf;
}

void sum_dir(const fs::path& dir, maildir_usage& u) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
        if (errno == ENOENT || errno == ENOTDIR) return;
        throw fs::filesystem_error("opendir", dir, std::error_code(errno, std::generic_category()));
    }
    while (const dirent* e = ::readdir(d)) {
        std::string_view name = e->d_name;
        if (name.empty() || name[0] == '.') continue;
        // ",S=<digits>" followed by ':' ',' or the end, as Dovecot's maildir_sum_dir reads it.
        auto pos = name.find(",S=");
        if (pos != std::string_view::npos) {
            std::string_view rest = name.substr(pos + 3);
            std::size_t n = 0;
            while (n < rest.size() && rest[n] >= '0' && rest[n] <= '9') ++n;
            std::uint64_t v = 0;
            if (n > 0 && (n == rest.size() || rest[n] == ':' || rest[n] == ',') &&
                parse_number(rest.substr(0, n), v)) {
                u.bytes += v;
                u.count += 1;
                continue;
            }
        }
        struct stat st {};
        if (::stat((dir / std::string(name)).c_str(), &st) == 0) {
            u.bytes += static_cast<std::uint64_t>(st.st_size);
            u.count += 1;
        }
        // ENOENT: Dovecot moved or expunged it meanwhile; not counted.
    }
    ::closedir(d);
}

void write_atomically(const fs::path& maildir, const std::string& content) {
    // Unique per process and thread: Dovecot uses its own temp names (hostpid) for the same file.
    const fs::path tmp = maildir / ("maildirsize.tmp." + std::to_string(::getpid()) + "." +
                                    std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id())));
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) throw fs::filesystem_error("open", tmp, std::error_code(errno, std::generic_category()));
    std::size_t off = 0;
    while (off < content.size()) {
        ssize_t n = ::write(fd, content.data() + off, content.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            throw fs::filesystem_error("write", tmp, std::error_code(err, std::generic_category()));
        }
        off += static_cast<std::size_t>(n);
    }
    // No fsync, like Dovecot: maildirsize is a cache; a torn file parses as broken and is
    // recalculated from the Maildir itself.
    ::close(fd);
    if (::rename(tmp.c_str(), (maildir / "maildirsize").c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        throw fs::filesystem_error("rename", tmp, std::error_code(err, std::generic_category()));
    }
}

} // namespace

std::optional<maildirsize_file> parse_maildirsize(std::string_view content) {
    if (content.size() >= maildirsize_max_bytes) return std::nullopt;
    if (content.find('\0') != std::string_view::npos) return std::nullopt;
    // A last line without LF may be an append in progress: ignore it (as Dovecot does).
    auto last_lf = content.rfind('\n');
    if (last_lf == std::string_view::npos) return std::nullopt;
    content = content.substr(0, last_lf);

    maildirsize_file f;
    auto eol = content.find('\n');
    std::string_view header = content.substr(0, eol);
    // Limits: Dovecot ignores parts it cannot read; so do we (the config's limit wins anyway).
    for (std::size_t start = 0; start <= header.size();) {
        auto comma = header.find(',', start);
        std::string_view part = trim(header.substr(start, comma == std::string_view::npos
                                                               ? std::string_view::npos
                                                               : comma - start));
        std::uint64_t v = 0;
        if (part.size() >= 2 && parse_number(part.substr(0, part.size() - 1), v)) {
            if (part.back() == 'S') f.limit_bytes = v;
            else if (part.back() == 'C') f.limit_count = v;
        }
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    if (eol == std::string_view::npos) return std::nullopt; // no value line: rebuild
    std::int64_t bytes = 0, count = 0;
    std::string_view rest = content.substr(eol + 1);
    for (;;) {
        auto nl = rest.find('\n');
        std::string_view line = trim(rest.substr(0, nl));
        auto sp = line.find_first_of(" \t");
        if (sp == std::string_view::npos) return std::nullopt;
        std::int64_t b = 0, c = 0;
        if (!parse_number(line.substr(0, sp), b) || !parse_number(trim(line.substr(sp)), c))
            return std::nullopt;
        bytes += b;
        count += c;
        ++f.value_lines;
        if (nl == std::string_view::npos) break;
        rest = rest.substr(nl + 1);
    }
    if (bytes < 0 || count < 0) return std::nullopt;
    f.usage = {static_cast<std::uint64_t>(bytes), static_cast<std::uint64_t>(count)};
    const bool over = (f.limit_bytes && f.usage.bytes > f.limit_bytes) ||
                      (f.limit_count && f.usage.count > f.limit_count);
    if (over && f.value_lines > 1) return std::nullopt;
    return f;
}

std::string format_maildirsize(std::uint64_t limit_bytes, std::uint64_t limit_count,
                               maildir_usage usage) {
    std::string s;
    if (limit_bytes != 0 || limit_count == 0) s += std::to_string(limit_bytes) + "S";
    if (limit_count != 0) {
        if (!s.empty()) s += ',';
        s += std::to_string(limit_count) + "C";
    }
    s += '\n';
    s += std::to_string(usage.bytes) + " " + std::to_string(usage.count) + "\n";
    return s;
}

maildir_usage scan_maildir(const fs::path& maildir) {
    maildir_usage u;
    sum_dir(maildir / "new", u);
    sum_dir(maildir / "cur", u);
    DIR* d = ::opendir(maildir.c_str());
    if (!d) {
        if (errno == ENOENT) return u;
        throw fs::filesystem_error("opendir", maildir, std::error_code(errno, std::generic_category()));
    }
    while (const dirent* e = ::readdir(d)) {
        std::string_view name = e->d_name;
        // Maildir++ folders are ".Name" directories (".Junk", ".Sent", ".a.b" for a/b).
        if (name.size() < 2 || name[0] != '.' || name == "..") continue;
        sum_dir(maildir / std::string(name) / "new", u);
        sum_dir(maildir / std::string(name) / "cur", u);
    }
    ::closedir(d);
    return u;
}

maildir_usage quota_usage(const fs::path& maildir, std::optional<std::uint64_t> limit_bytes,
                          bool repair) {
    const auto content = read_small(maildir / "maildirsize");
    std::optional<maildirsize_file> f;
    if (content) f = parse_maildirsize(*content);
    if (f && (!limit_bytes || f->limit_bytes == *limit_bytes)) return f->usage;

    maildir_usage u = scan_maildir(maildir);
    std::error_code ec;
    if (repair && fs::is_directory(maildir, ec))
        write_atomically(maildir, format_maildirsize(limit_bytes ? *limit_bytes
                                                                 : (f ? f->limit_bytes : 0),
                                                     f ? f->limit_count : 0, u));
    return u;
}

bool would_fit(const fs::path& maildir, std::uint64_t quota_bytes, std::uint64_t size) {
    if (quota_bytes == 0) return true;
    try {
        return quota_usage(maildir, std::nullopt, false).bytes + size <= quota_bytes;
    } catch (const std::exception&) {
        return true;
    }
}

bool maildirsize_append(const fs::path& maildir, std::int64_t bytes, std::int64_t count) {
    int fd = ::open((maildir / "maildirsize").c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return errno == ENOENT;
    const std::string line = std::to_string(bytes) + " " + std::to_string(count) + "\n";
    ssize_t n;
    do {
        n = ::write(fd, line.data(), line.size());
    } while (n < 0 && errno == EINTR);
    ::close(fd);
    return n == static_cast<ssize_t>(line.size());
}

} // namespace cartero::local
