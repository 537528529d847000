// tests/unit/outbound/test_io_deadline.cpp — the per-connection I/O deadline on a real
// io_context and a real socket pair: an operation past its bound is cancelled, one that
// finished is not, a shorter bound after a longer one is kept, a dead connection's timer
// does nothing.
#include "daemon/outbound/io_deadline.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <functional>

using cartero::outbound::io_deadline;
using namespace std::chrono_literals;
namespace net = boost::asio;

namespace {
using clock = std::chrono::steady_clock;

struct fixture {
    net::io_context io;
    net::local::stream_protocol::socket a{io}, b{io};
    fixture() { net::local::connect_pair(a, b); }
    // Runs the loop for d (the deadline's timer and any reads complete meanwhile).
    void run_for(clock::duration d) {
        io.restart();
        io.run_for(d);
    }
};
} // namespace

TEST_CASE("io_deadline: a read past its bound is cancelled and reported expired") {
    fixture f;
    int expired_calls = 0;
    io_deadline d(f.io.get_executor(), [&] {
        ++expired_calls;
        f.a.cancel();
    });
    char buf[16];
    boost::system::error_code got;
    bool done = false;
    const auto t0 = clock::now();
    clock::time_point ended;
    d.start(80ms);
    f.a.async_read_some(net::buffer(buf), [&](boost::system::error_code ec, std::size_t) {
        got = ec;
        done = true;
        ended = clock::now();
        d.stop();
    });
    f.run_for(1s);
    REQUIRE(done);
    CHECK(got == net::error::operation_aborted);
    CHECK(d.expired());
    CHECK(expired_calls == 1);
    CHECK(ended - t0 >= 80ms);
    CHECK(ended - t0 < 900ms);
}

TEST_CASE("io_deadline: operations that finish in time are never cancelled") {
    fixture f;
    int expired_calls = 0;
    io_deadline d(f.io.get_executor(), [&] { ++expired_calls; });
    // Ten reads of 30 ms each under a 100 ms bound: 300 ms in all, each one in time.
    char buf[1];
    int reads = 0;
    net::steady_timer writer(f.io);
    std::function<void()> next = [&] {
        if (reads == 10) return;
        d.start(100ms);
        f.a.async_read_some(net::buffer(buf), [&](boost::system::error_code ec, std::size_t n) {
            d.stop();
            if (!ec && n == 1) ++reads;
            next();
        });
        writer.expires_after(30ms);
        writer.async_wait([&](boost::system::error_code ec) {
            if (!ec) net::write(f.b, net::buffer("x", 1));
        });
    };
    next();
    f.run_for(800ms);
    CHECK(reads == 10);
    CHECK_FALSE(d.expired());
    CHECK(expired_calls == 0);
    // Idle afterwards (stopped): still nothing, however long.
    f.run_for(250ms);
    CHECK(expired_calls == 0);
}

TEST_CASE("io_deadline: a shorter bound after a longer one is the one kept") {
    fixture f;
    clock::time_point fired{};
    io_deadline d(f.io.get_executor(), [&] { fired = clock::now(); });
    const auto t0 = clock::now();
    d.start(10s);
    d.stop();
    d.start(60ms); // the 10 s wait is replaced
    f.run_for(1s);
    REQUIRE(d.expired());
    CHECK(fired - t0 >= 60ms);
    CHECK(fired - t0 < 900ms);
}

TEST_CASE("io_deadline: a bound given after the timer was set counts from its own start") {
    fixture f;
    clock::time_point fired{};
    io_deadline d(f.io.get_executor(), [&] { fired = clock::now(); });
    d.start(60ms);
    f.run_for(40ms);
    d.stop();
    const auto t1 = clock::now();
    d.start(150ms); // the timer wakes at 60 ms, finds this operation in time, sleeps again
    f.run_for(80ms);
    CHECK_FALSE(d.expired());
    f.run_for(1s);
    REQUIRE(d.expired());
    CHECK(fired - t1 >= 150ms);
}

TEST_CASE("io_deadline: destroyed with its timer running, nothing is called") {
    fixture f;
    int calls = 0;
    {
        io_deadline d(f.io.get_executor(), [&] { ++calls; });
        d.start(20ms);
    }
    f.run_for(200ms);
    CHECK(calls == 0);
}
