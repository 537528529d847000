// daemon/local/maildir_writer.cpp — Maildir delivery: tmp/ → syncfs per batch → new/, idempotent names, quota.
#include "daemon/local/maildir_writer.hpp"

#include "daemon/local/maildir_quota.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

namespace cartero::local {

namespace fs = std::filesystem;

namespace {

struct sys_error {
    std::string what;
};

[[noreturn]] void throw_errno(const std::string& op, const fs::path& p) {
    throw sys_error{op + " " + p.string() + ": " + std::strerror(errno)};
}

void fsync_path(const fs::path& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw_errno("open", dir);
    if (::fsync(fd) != 0) {
        int err = errno;
        ::close(fd);
        errno = err;
        throw_errno("fsync", dir);
    }
    ::close(fd);
}

// mkdir -p with 0700; returns true when it created `dir` (then its parent needs an fsync).
bool make_dir(const fs::path& dir, std::vector<fs::path>& created) {
    if (::mkdir(dir.c_str(), 0700) == 0) {
        created.push_back(dir);
        return true;
    }
    if (errno == EEXIST) return false;
    if (errno == ENOENT && dir.has_parent_path() && dir.parent_path() != dir) {
        make_dir(dir.parent_path(), created);
        if (::mkdir(dir.c_str(), 0700) == 0) {
            created.push_back(dir);
            return true;
        }
        if (errno == EEXIST) return false;
    }
    throw_errno("mkdir", dir);
}

void write_all(int fd, const std::string& head, std::string_view body, const fs::path& p) {
    std::size_t total = head.size() + body.size(), off = 0;
    while (off < total) {
        iovec iov[2];
        int n = 0;
        if (off < head.size()) {
            iov[n++] = {const_cast<char*>(head.data() + off), head.size() - off};
            iov[n++] = {const_cast<char*>(body.data()), body.size()};
        } else {
            iov[n++] = {const_cast<char*>(body.data() + (off - head.size())),
                        body.size() - (off - head.size())};
        }
        ssize_t w = ::writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            throw_errno("write", p);
        }
        off += static_cast<std::size_t>(w);
    }
}

} // namespace

bool is_maildir_folder(const fs::path& maildir) {
    const std::string last = maildir.filename().string();
    return last.size() > 1 && last[0] == '.' && last != ".." && maildir.has_parent_path();
}

fs::path maildir_root(const fs::path& maildir) {
    return is_maildir_folder(maildir) ? maildir.parent_path() : maildir;
}

maildir_writer::maildir_writer(std::string hostname) : hostname_(std::move(hostname)) {
    if (hostname_.empty()) {
        char buf[256] = {};
        if (::gethostname(buf, sizeof buf - 1) == 0) hostname_ = buf;
        if (hostname_.empty()) hostname_ = "localhost";
    }
}

std::string maildir_writer::file_name(std::int64_t received_at, std::string_view queue_id,
                                      std::int64_t row_id, std::string_view hostname,
                                      std::uint64_t size) {
    std::string n = std::to_string(received_at) + "." + std::string(queue_id) + "_" +
                    std::to_string(row_id) + ".";
    for (char c : hostname) {
        if (c == '/') n += "\\057";
        else if (c == ':') n += "\\072";
        else n += c;
    }
    n += ",S=" + std::to_string(size);
    return n;
}

void maildir_writer::ensure_dirs(const fs::path& maildir) {
    if (ready_.count(maildir)) return;
    std::vector<fs::path> created;
    const bool folder = is_maildir_folder(maildir);
    if (folder) // the mailbox itself first, so Dovecot sees INBOX beside the folder
        for (const char* sub : {"tmp", "new", "cur"}) make_dir(maildir.parent_path() / sub, created);
    make_dir(maildir, created);
    for (const char* sub : {"tmp", "new", "cur"}) make_dir(maildir / sub, created);
    if (folder) { // Maildir++: an empty "maildirfolder" file marks a subfolder (Dovecot, Courier)
        const fs::path marker = maildir / "maildirfolder";
        int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) throw_errno("open", marker);
        const int rc = ::fsync(fd);
        ::close(fd);
        if (rc != 0) throw_errno("fsync", marker);
        created.push_back(marker);
    }
    // Each new directory's name lives in its parent: fsync the parents, deepest last is fine
    // since each fsync is independent.
    std::set<fs::path> parents;
    for (const auto& d : created) parents.insert(d.parent_path());
    for (const auto& p : parents) fsync_path(p);
    ready_.insert(maildir);
}

bool maildir_writer::exists(const fs::path& maildir, const std::string& name, bool search_cur,
                            std::string& found) const {
    struct stat st {};
    if (::stat((maildir / "new" / name).c_str(), &st) == 0) {
        found = name;
        return true;
    }
    if (!search_cur) return false;
    // Dovecot moves a seen message to cur/<name>:2,<flags> (and may add ",W=" fields before
    // the ':'): match the unique part "<received_at>.<queue id>_<row id>." as a prefix.
    const auto dot = name.find(".", name.find('_'));
    const std::string key = name.substr(0, dot + 1);
    DIR* d = ::opendir((maildir / "cur").c_str());
    if (!d) return false;
    bool hit = false;
    while (const dirent* e = ::readdir(d)) {
        if (std::strncmp(e->d_name, key.c_str(), key.size()) == 0) {
            found = e->d_name;
            hit = true;
            break;
        }
    }
    ::closedir(d);
    return hit;
}

delivery_outcome maildir_writer::deliver(const delivery_request& r) {
    delivery_outcome out;
    const std::string head = "Return-Path: <" + std::string(r.mail_from) + ">\r\nDelivered-To: " +
                             std::string(r.deliver_to) + "\r\n";
    out.size = head.size() + r.body.size();
    const std::string name = file_name(r.received_at, r.queue_id, r.row_id, hostname_, out.size);
    const fs::path tmp = r.maildir / "tmp" / name;
    int fd = -1;
    try {
        ensure_dirs(r.maildir);
        std::string found;
        if (exists(r.maildir, name, r.redelivery, found)) {
            // Written before a crash (or before a lost 'delivered' mark): the earlier copy
            // counts; make sure its rename is durable before the caller marks it delivered.
            dirty_.insert(r.maildir / "new");
            out.status = delivery_status::duplicate;
            out.file_name = found;
            out.reply = reply(250, "2.0.0", "Already delivered");
            return out;
        }
        if (r.quota_bytes != 0) {
            maildir_usage u = quota_usage(maildir_root(r.maildir), r.quota_bytes, true);
            // Messages staged in this batch are not in maildirsize yet: count them too.
            const auto staged = staged_bytes_.find(maildir_root(r.maildir));
            const std::uint64_t pending = staged == staged_bytes_.end() ? 0 : staged->second;
            if (u.bytes + pending + out.size > r.quota_bytes) {
                out.status = delivery_status::over_quota;
                out.reply = reply(552, "5.2.2", "Mailbox full");
                return out;
            }
        }
        fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) throw_errno("open", tmp);
        write_all(fd, head, r.body, tmp);
        int rc = ::close(fd);
        fd = -1;
        if (rc != 0) throw_errno("close", tmp);
        // Not yet durable, not yet visible: flush() syncs the whole batch's data with one
        // syncfs(2) and only then renames into new/ (group commit for Maildir files).
        staged_.push_back({tmp, r.maildir / "new" / name, r.maildir, out.size});
        staged_bytes_[maildir_root(r.maildir)] += out.size;
        out.status = delivery_status::delivered;
        out.file_name = name;
        out.reply = reply(250, "2.0.0", "Delivered");
    } catch (const sys_error& e) {
        if (fd >= 0) ::close(fd);
        ::unlink(tmp.c_str());
        out.status = delivery_status::failed;
        out.reply = reply(451, "4.3.0", "Maildir write failed: " + e.what);
    } catch (const std::exception& e) { // filesystem_error from the quota code
        if (fd >= 0) ::close(fd);
        ::unlink(tmp.c_str());
        out.status = delivery_status::failed;
        out.reply = reply(451, "4.3.0", std::string("Maildir write failed: ") + e.what());
    }
    return out;
}

std::vector<fs::path> maildir_writer::flush() {
    std::vector<fs::path> failed;
    auto fail = [&](const fs::path& maildir) {
        if (std::find(failed.begin(), failed.end(), maildir) == failed.end())
            failed.push_back(maildir);
    };
    // 1. Make every staged file's data durable: one syncfs(2) per filesystem instead of one
    //    fsync per file (the mail root is normally one filesystem).
    std::set<dev_t> synced, broken;
    for (const auto& st : staged_) {
        struct stat sb {};
        if (::stat(st.maildir.c_str(), &sb) != 0) {
            broken.insert(0);
            continue;
        }
        if (synced.count(sb.st_dev) || broken.count(sb.st_dev)) continue;
        int fd = ::open(st.maildir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0 && ::syncfs(fd) == 0)
            synced.insert(sb.st_dev);
        else
            broken.insert(sb.st_dev);
        if (fd >= 0) ::close(fd);
    }
    // 2. Only durable files become visible; 3. the renames become durable with new/'s fsync.
    for (const auto& st : staged_) {
        struct stat sb {};
        const bool ok = ::stat(st.maildir.c_str(), &sb) == 0 && synced.count(sb.st_dev) &&
                        ::rename(st.tmp.c_str(), st.final.c_str()) == 0;
        if (!ok) {
            ::unlink(st.tmp.c_str());
            fail(st.maildir);
            continue;
        }
        dirty_.insert(st.maildir / "new");
        // After the rename: a crash before this line leaves maildirsize one message short,
        // which the next recalculation corrects (never an over-count that refuses mail).
        maildirsize_append(maildir_root(st.maildir), static_cast<std::int64_t>(st.size), 1);
    }
    staged_.clear();
    staged_bytes_.clear();
    for (const auto& d : dirty_) {
        try {
            fsync_path(d);
        } catch (const sys_error&) {
            fail(d.parent_path());
            ready_.erase(d.parent_path()); // re-check the directories next time
        }
    }
    dirty_.clear();
    return failed;
}

} // namespace cartero::local
