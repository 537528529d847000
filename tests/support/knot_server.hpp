// tests/support/knot_server.hpp — a real authoritative DNS server (Knot) on 127.0.0.1 for
// Catch2 tests: writes a knotd config and zone files into a temp dir, starts knotd, serves,
// reloads, stops.
//
// Usage:
//   if (!cartero::test::knot_server::available()) { WARN("knotd not installed"); return; }
//   cartero::test::knot_server dns({{"example.com", "www A 192.0.2.1\n@ MX 10 mx1\n"}});
//   resolver_settings{.forward_to = dns.address()}  // "127.0.0.1:PORT"
//   dns.set_zone("example.com", "www A 192.0.2.2\n"); // written, reloaded, served on return
//
// A zone text without an SOA gets one prepended (with NS localhost., TTLs of 1 s and a serial
// that grows with each set_zone), plus "$ORIGIN zone." and "$TTL 1", so tests write only the
// records they care about. Everything lives in one temp dir (config, zones, rundir, LMDB
// storage) that the destructor removes after stopping knotd. knotd gets PR_SET_PDEATHSIG, so a
// test process that dies does not leave it running; construct the server on a thread that
// outlives it (the main thread in Catch2). Header-only: tests include it from any suite.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace cartero::test {

class knot_server {
public:
    using zone_map = std::map<std::string, std::string>; // zone name (no trailing dot) → text

    // knotd, knotc and kdig are all installed (tests skip otherwise).
    static bool available() {
        return find_program("knotd").size() && find_program("knotc").size() &&
               find_program("kdig").size();
    }

    explicit knot_server(zone_map zones) : zones_(std::move(zones)) {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "cartero-knot-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("knot_server: mkdtemp failed");
        dir_ = tmpl;
        for (const char* d : {"run", "db", "zones"}) std::filesystem::create_directory(dir_ / d);
        for (const auto& [name, text] : zones_) write_zone(name, text);
        std::string last;
        for (int attempt = 0; attempt < 3; ++attempt) { // a port taken between probe and bind
            port_ = free_port();
            write_config();
            if (start(last)) return;
            kill_knotd();
        }
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
        throw std::runtime_error("knot_server: knotd did not start: " + last);
    }

    ~knot_server() {
        stop();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    knot_server(const knot_server&) = delete;
    knot_server& operator=(const knot_server&) = delete;

    std::uint16_t port() const { return port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); } // ADDR:PORT
    std::string dir() const { return dir_.string(); }
    std::string config_path() const { return (dir_ / "knot.conf").string(); }

    // Replaces (or adds) a zone and reloads it; returns once knotd serves the new content.
    void set_zone(const std::string& zone, const std::string& text) {
        bool added = zones_.find(zone) == zones_.end();
        zones_[zone] = text;
        ++serial_;
        write_zone(zone, text);
        std::string out;
        if (added) {
            write_config();
            if (run({"knotc", "-c", config_path(), "reload"}, out) != 0)
                throw std::runtime_error("knot_server: knotc reload failed: " + out);
        } else if (run({"knotc", "-c", config_path(), "-b", "zone-reload", zone}, out) != 0) {
            throw std::runtime_error("knot_server: knotc zone-reload " + zone + " failed: " + out);
        }
        if (!wait_served(zone, std::chrono::seconds(10)))
            throw std::runtime_error("knot_server: " + zone + " not served after reload; log:\n" +
                                     log());
    }

    // Stops knotd (SIGTERM, then SIGKILL after 5 s). Idempotent.
    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (std::chrono::steady_clock::now() < until) {
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        kill_knotd();
    }

    std::string log() const {
        std::ifstream in(dir_ / "knotd.log");
        std::ostringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }

    // Runs argv[0] from PATH (or /usr/sbin) with a time limit; stdout+stderr into `out`.
    // Returns the exit status, or -1 when it could not run or was killed at the limit.
    static int run(const std::vector<std::string>& argv, std::string& out,
                   std::chrono::milliseconds limit = std::chrono::seconds(10)) {
        out.clear();
        std::string exe = find_program(argv.at(0));
        if (exe.empty()) return -1;
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) return -1;
        pid_t pid = ::fork();
        if (pid < 0) {
            ::close(fds[0]);
            ::close(fds[1]);
            return -1;
        }
        if (pid == 0) { // async-signal-safe calls only until exec
            ::dup2(fds[1], 1);
            ::dup2(fds[1], 2);
            ::execv(exe.c_str(), args.data());
            ::_exit(127);
        }
        ::close(fds[1]);
        auto until = std::chrono::steady_clock::now() + limit;
        bool killed = false;
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                until - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                ::kill(pid, SIGKILL);
                killed = true;
                break;
            }
            pollfd p{fds[0], POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            char buf[4096];
            auto n = ::read(fds[0], buf, sizeof buf);
            if (n <= 0) break;
            out.append(buf, static_cast<std::size_t>(n));
        }
        ::close(fds[0]);
        int st = 0;
        ::waitpid(pid, &st, 0);
        if (killed || !WIFEXITED(st)) return -1;
        return WEXITSTATUS(st);
    }

private:
    static std::string find_program(const std::string& name) {
        std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
        path += ":/usr/sbin:/usr/bin:/sbin:/bin";
        std::stringstream ss(path);
        for (std::string d; std::getline(ss, d, ':');) {
            if (d.empty()) continue;
            auto p = std::filesystem::path(d) / name;
            if (::access(p.c_str(), X_OK) == 0) return p.string();
        }
        return {};
    }

    // A port free for both UDP and TCP on 127.0.0.1 at the time of asking.
    static std::uint16_t free_port() {
        for (int i = 0; i < 50; ++i) {
            int u = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            socklen_t len = sizeof a;
            if (::bind(u, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
                ::getsockname(u, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
                ::close(u);
                continue;
            }
            int t = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            bool ok = ::bind(t, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
            ::close(t);
            ::close(u);
            if (ok) return ntohs(a.sin_port);
        }
        throw std::runtime_error("knot_server: no free port on 127.0.0.1");
    }

    std::string zone_text(const std::string& zone, const std::string& text) const {
        std::string out = "$ORIGIN " + zone + ".\n$TTL 1\n";
        if (text.find("SOA") == std::string::npos)
            out += "@ 1 SOA localhost. hostmaster." + zone + ". " + std::to_string(serial_) +
                   " 3600 600 86400 1\n@ 1 NS localhost.\n";
        return out + text + "\n";
    }

    void write_zone(const std::string& zone, const std::string& text) {
        // Written aside and renamed, so knotd never reads half a file.
        auto final_path = dir_ / "zones" / (zone + ".zone");
        auto tmp = final_path;
        tmp += ".tmp";
        {
            std::ofstream out(tmp, std::ios::trunc);
            out << zone_text(zone, text);
            if (!out) throw std::runtime_error("knot_server: cannot write " + tmp.string());
        }
        std::filesystem::rename(tmp, final_path);
    }

    void write_config() const {
        std::ofstream c(dir_ / "knot.conf", std::ios::trunc);
        c << "# knot.conf written by tests/support/knot_server.hpp\n"
          << "server:\n"
          << "    rundir: \"" << (dir_ / "run").string() << "\"\n"
          << "    listen: 127.0.0.1@" << port_ << "\n"
          << "    udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n"
          << "database:\n    storage: \"" << (dir_ / "db").string() << "\"\n"
          << "log:\n  - target: stderr\n    any: info\n"
          << "control:\n    listen: \"" << (dir_ / "run" / "knot.sock").string() << "\"\n"
          << "template:\n  - id: default\n"
          << "    storage: \"" << (dir_ / "zones").string() << "\"\n"
          << "    zonefile-sync: -1\n    zonefile-load: whole\n    journal-content: none\n"
          << "zone:\n";
        for (const auto& [name, text] : zones_)
            c << "  - domain: \"" << name << ".\"\n    file: \"" << name << ".zone\"\n";
        if (!c) throw std::runtime_error("knot_server: cannot write knot.conf");
    }

    bool start(std::string& why) {
        std::string exe = find_program("knotd"), conf = config_path();
        std::string logf = (dir_ / "knotd.log").string();
        std::vector<char*> args{const_cast<char*>(exe.c_str()), const_cast<char*>("-c"),
                                conf.data(), nullptr};
        pid_t parent = ::getpid();
        pid_ = ::fork();
        if (pid_ < 0) {
            why = "fork failed";
            return false;
        }
        if (pid_ == 0) { // async-signal-safe calls only until exec
            ::prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (::getppid() != parent) ::_exit(1);
            int fd = ::open(logf.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (fd >= 0) {
                ::dup2(fd, 1);
                ::dup2(fd, 2);
            }
            int devnull = ::open("/dev/null", O_RDONLY);
            if (devnull >= 0) ::dup2(devnull, 0);
            ::execv(exe.c_str(), args.data());
            ::_exit(127);
        }
        for (const auto& [name, text] : zones_)
            if (!wait_served(name, std::chrono::seconds(10))) {
                why = "zone " + name + " not served on port " + std::to_string(port_) +
                      "; knotd log:\n" + log();
                return false;
            }
        return true;
    }

    // kdig answers the zone's SOA (with our serial, when we wrote the SOA).
    bool wait_served(const std::string& zone, std::chrono::seconds limit) {
        auto until = std::chrono::steady_clock::now() + limit;
        bool ours = zones_[zone].find("SOA") == std::string::npos;
        while (std::chrono::steady_clock::now() < until) {
            if (pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                return false;
            }
            std::string out;
            int rc = run({"kdig", "@127.0.0.1", "-p", std::to_string(port_), "+short", "+time=1",
                          "+retry=0", "SOA", zone + "."},
                         out, std::chrono::seconds(3));
            // "+short" SOA: "mname rname serial refresh retry expire minimum".
            std::istringstream fields(out);
            std::string mname, rname, serial;
            fields >> mname >> rname >> serial;
            if (rc == 0 && !serial.empty() && mname.rfind(";;", 0) != 0 &&
                (!ours || serial == std::to_string(serial_)))
                return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(30));
        }
        return false;
    }

    void kill_knotd() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

    std::filesystem::path dir_;
    zone_map zones_;
    std::uint16_t port_ = 0;
    unsigned serial_ = 1;
    pid_t pid_ = -1;
};

} // namespace cartero::test
