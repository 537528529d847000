// provisioning/state_dir.cpp — `carteroctl init`: lay out a state directory, all or nothing.
#include "provisioning/state_dir.hpp"

#include "core/config_db.hpp"
#include "core/daemon_settings.hpp"
#include "core/queue_schema.hpp"
#include "core/tls_cert.hpp"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace cartero::ctl {
namespace {

bool exists(const std::string& p) {
    struct stat st;
    return ::lstat(p.c_str(), &st) == 0;
}

[[noreturn]] void sys_fail(const std::string& what) {
    throw std::runtime_error(what + ": " + std::strerror(errno));
}

// What init created, undone in reverse order if a later step fails.
class undo_log {
public:
    ~undo_log() {
        if (done_) return;
        for (auto it = created_.rbegin(); it != created_.rend(); ++it) {
            if (it->second) ::rmdir(it->first.c_str());
            else ::unlink(it->first.c_str());
        }
    }
    void file(const std::string& p) { created_.emplace_back(p, false); }
    void dir(const std::string& p) { created_.emplace_back(p, true); }
    void keep() { done_ = true; }

private:
    std::vector<std::pair<std::string, bool>> created_;
    bool done_ = false;
};

void make_dir(const std::string& p, undo_log& undo) {
    if (exists(p)) {
        struct stat st;
        if (::stat(p.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
            throw std::runtime_error(p + " exists and is not a directory");
        return;
    }
    if (::mkdir(p.c_str(), 0750) != 0) sys_fail("cannot create " + p);
    undo.dir(p);
    if (::chmod(p.c_str(), 0750) != 0) sys_fail("cannot chmod " + p);
}

// A SQLite database leaves -wal and -shm beside it; all three go if init fails.
void note_db(const std::string& p, undo_log& undo) {
    undo.file(p);
    undo.file(p + "-wal");
    undo.file(p + "-shm");
}

void create_queue_db(const std::string& path, undo_log& undo) {
    bool had = exists(path);
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    if (!had) note_db(path, undo);
    if (rc != SQLITE_OK) {
        std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
        sqlite3_close(db);
        throw std::runtime_error("cannot create " + path + ": " + msg);
    }
    try {
        sqlite3_busy_timeout(db, 5000);
        queue_db::migrate(db);
    } catch (...) {
        sqlite3_close(db);
        throw;
    }
    sqlite3_close(db);
    if (!had && ::chmod(path.c_str(), 0640) != 0) sys_fail("cannot chmod " + path);
}

void write_new_file(const std::string& path, const std::string& text, undo_log& undo) {
    std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) sys_fail("cannot create " + tmp);
        undo.file(tmp);
        out << text;
        out.close();
        if (!out) sys_fail("cannot write " + tmp);
    }
    if (::chmod(tmp.c_str(), 0640) != 0) sys_fail("cannot chmod " + tmp);
    if (::rename(tmp.c_str(), path.c_str()) != 0) sys_fail("cannot rename " + tmp);
    undo.file(path);
}

// mkdir -p for the parents of the state directory (0755, as mkdir -p makes them).
void make_parents(const std::string& dir, undo_log& undo) {
    for (std::size_t pos = dir.find('/', 1); pos != std::string::npos; pos = dir.find('/', pos + 1)) {
        std::string p = dir.substr(0, pos);
        if (exists(p)) continue;
        if (::mkdir(p.c_str(), 0755) != 0) sys_fail("cannot create " + p);
        undo.dir(p);
    }
}

} // namespace

void init_state_dir(const std::string& dir, const std::string& hostname) {
    const std::string config_path = dir + "/" + config_db_name;
    if (exists(config_path))
        throw std::runtime_error(dir + " is already initialised (" + config_path +
                                 " exists); nothing changed");
    undo_log undo;
    make_parents(dir, undo);
    make_dir(dir, undo);
    make_dir(dir + "/spool", undo);
    make_dir(dir + "/mail", undo);
    make_dir(dir + "/tls", undo);

    create_queue_db(dir + "/" + queue_db_name, undo);

    const std::string cert = dir + "/tls/cert.pem", key = dir + "/tls/key.pem";
    bool have_cert = exists(cert), have_key = exists(key);
    if (have_cert != have_key)
        throw std::runtime_error(std::string(have_cert ? cert : key) + " exists but " +
                                 (have_cert ? key : cert) +
                                 " does not; remove it or supply both");
    if (!have_cert) {
        undo.file(key);
        undo.file(cert);
        tls::write_self_signed(hostname, cert, key);
    }

    const std::string conf = dir + "/" + settings_name;
    if (!exists(conf)) write_new_file(conf, config::render_default_settings(hostname), undo);

    note_db(config_path, undo);
    {
        config::config_db db(config_path, true);
        db.set_setting("hostname", hostname);
    }
    if (::chmod(config_path.c_str(), 0640) != 0) sys_fail("cannot chmod " + config_path);
    undo.keep();
}

} // namespace cartero::ctl
