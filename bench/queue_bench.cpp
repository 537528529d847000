// bench/queue_bench.cpp — enqueue throughput of queue::store under concurrent sessions (group commit).
// Usage: queue_bench [sessions=16] [messages_per_session=500] [body_bytes=1024] [dir=/tmp]
// Each session enqueues one message and waits for its done() — as an SMTP session waits before
// its 250 — then sends the next. Count the syncs with:
//   strace -f -c -e trace=fsync,fdatasync ./queue_bench 16 500
#include "daemon/queue/queue_store.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace cartero;

int main(int argc, char** argv) {
    const int sessions = argc > 1 ? std::atoi(argv[1]) : 16;
    const int per_session = argc > 2 ? std::atoi(argv[2]) : 500;
    const std::size_t body_bytes = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 1024;
    const std::filesystem::path dir =
        std::filesystem::path(argc > 4 ? argv[4] : "/tmp") / ("queue_bench." + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);

    std::string body;
    while (body.size() < body_bytes) body += "Lorem ipsum dolor sit amet, consectetur adipiscing.\r\n";
    body.resize(body_bytes);

    auto store = queue::store::open({dir / "queue.db"});
    std::atomic<int> failed{0};
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> ts;
    for (int t = 0; t < sessions; ++t)
        ts.emplace_back([&, t] {
            for (int i = 0; i < per_session; ++i) {
                queue::message m;
                m.id = queue::new_queue_id();
                m.mail_from = "bench@example.org";
                m.received_at = 1700000000;
                m.body = body;
                queue::recipient r;
                r.rcpt_to = r.deliver_to = "user" + std::to_string(t) + "@example.com";
                r.maildir = "/var/mail/example.com/user" + std::to_string(t);
                m.rcpts.push_back(r);
                std::promise<bool> p;
                auto f = p.get_future();
                store->enqueue(std::move(m), [&p](std::optional<std::string> e) { p.set_value(!e); });
                if (!f.get()) failed++;
            }
        });
    for (auto& th : ts) th.join();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    store->stop();
    const auto n = store->messages_committed();
    std::printf("sessions=%d messages=%llu failed=%d seconds=%.3f msgs_per_s=%.0f commits=%llu "
                "msgs_per_commit=%.1f\n",
                sessions, static_cast<unsigned long long>(n), failed.load(), secs, n / secs,
                static_cast<unsigned long long>(store->commits()),
                static_cast<double>(n) / static_cast<double>(store->commits()));
    store.reset();
    std::filesystem::remove_all(dir);
    return failed ? 1 : 0;
}
