// bench/spool_bench.cpp — body_spool (files reused through spool-reuse/) against the plain
// create + unlink it replaced, same pattern: write, syncfs per group of 32, remove 200 messages
// later (a queue that keeps ~200 messages in flight).
// Usage: spool_bench [messages=5000] [body_bytes=102400] [dir=/var/tmp]
// Prints wall and CPU µs per message for both, and the machine's busy CPU (from /proc/stat,
// which also counts the kernel's writeback threads that the process's own CPU time misses).
#include "daemon/queue/body_spool.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/resource.h>
#include <unistd.h>

using namespace cartero;

namespace {

double process_cpu() {
    rusage r{};
    ::getrusage(RUSAGE_SELF, &r);
    return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
           static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

double machine_busy() { // seconds of non-idle CPU since boot, all CPUs
    std::ifstream f("/proc/stat");
    std::string cpu;
    long long v[8] = {};
    f >> cpu;
    for (auto& x : v) f >> x;
    long long total = 0;
    for (auto x : v) total += x;
    return static_cast<double>(total - v[3] - v[4]) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// The spool as it was: a new file per message, unlinked when done.
struct plain_spool {
    int dir_fd;
    void write(const std::string& id, std::string_view body) const {
        int fd = ::openat(dir_fd, id.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 || ::write(fd, body.data(), body.size()) != static_cast<ssize_t>(body.size())) std::abort();
        ::close(fd);
    }
    void sync() const { ::syncfs(dir_fd); }
    void remove(const std::string& id) const { ::unlinkat(dir_fd, id.c_str(), 0); }
};

template <class Spool>
void run(const char* name, const Spool& sp, int n, const std::string& body) {
    std::deque<std::string> live;
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = process_cpu(), m0 = machine_busy();
    for (int i = 0; i < n; ++i) {
        std::string id = "M" + std::to_string(i);
        sp.write(id, std::string_view(body).substr(0, body.size() - static_cast<std::size_t>(i % 7) * 100));
        live.push_back(std::move(id));
        if (i % 32 == 31) sp.sync();
        if (live.size() > 200) {
            sp.remove(live.front());
            live.pop_front();
        }
    }
    sp.sync();
    for (const auto& id : live) sp.remove(id);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%-22s %7.1f µs wall  %7.1f µs CPU (process)  %7.1f µs CPU (machine) per message\n",
                name, wall / n * 1e6, (process_cpu() - c0) / n * 1e6, (machine_busy() - m0) / n * 1e6);
}

} // namespace

int main(int argc, char** argv) {
    const int n = argc > 1 ? std::atoi(argv[1]) : 5000;
    const std::size_t bytes = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 102400;
    const std::filesystem::path base =
        std::filesystem::path(argc > 3 ? argv[3] : "/var/tmp") / ("spool_bench." + std::to_string(::getpid()));
    std::string body;
    while (body.size() < bytes + 1000) body += "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n";
    body.resize(bytes);
    for (int round = 0; round < 2; ++round) { // alternate, twice: this machine is noisy
        std::filesystem::create_directories(base / "plain");
        int fd = ::open((base / "plain").c_str(), O_RDONLY | O_DIRECTORY);
        run("create + unlink", plain_spool{fd}, n, body);
        ::close(fd);
        {
            queue::body_spool sp(base / "spool");
            run("body_spool (reuse)", sp, n, body);
        }
        std::filesystem::remove_all(base);
    }
}
