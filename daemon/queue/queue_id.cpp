// daemon/queue/queue_id.cpp — new_queue_id(): unique, time-sortable queue ids in [0-9A-Z].
#include "daemon/queue/queue_store.hpp"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>

namespace cartero::queue {

namespace {

// Crockford's base32 digits: a subset of [0-9A-Z] in ascending ASCII order, so comparing ids
// as strings compares their timestamps (no I/L/O/U to misread in logs).
constexpr char digits[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void put_base32(std::string& out, std::uint64_t v, int width) {
    for (int i = width - 1; i >= 0; --i)
        out += digits[(v >> (5 * i)) & 31];
}

} // namespace

// Layout (16 characters):
//   11 digits  microseconds since the epoch (55 bits: good until the year 3111), bumped so that
//              it strictly increases within a process: this is the per-process counter, ids
//              from one process never repeat even when the clock stalls or steps back;
//    5 digits  25 random bits drawn per id: two processes started in the same second (or a
//              restart with a clock step back) collide only if they pick the same microsecond
//              and the same 25 bits.
// The store's PRIMARY KEY catches the rest: a duplicate fails that one message, not silently.
std::string new_queue_id() {
    static std::mutex mu;
    static std::uint64_t last_us = 0;
    static std::mt19937_64 rng{[] {
        std::random_device rd;
        return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    }()};

    const auto now = std::chrono::system_clock::now().time_since_epoch();
    std::uint64_t us =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(now).count());
    std::uint64_t rnd = 0;
    {
        std::lock_guard lk(mu);
        if (us <= last_us) us = last_us + 1;
        last_us = us;
        rnd = rng();
    }
    std::string id;
    id.reserve(16);
    put_base32(id, us, 11);
    put_base32(id, rnd, 5);
    return id;
}

} // namespace cartero::queue
