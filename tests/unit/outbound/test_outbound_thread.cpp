// tests/unit/outbound/test_outbound_thread.cpp — the outbound io thread: hand-over, errors, stop.
#include "daemon/outbound/outbound_thread.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

using cartero::outbound::outbound_thread;
namespace net = boost::asio;
using namespace std::chrono_literals;

TEST_CASE("outbound thread: run_and_wait runs on the other thread and returns after it ran") {
    outbound_thread t;
    t.start(nullptr);
    std::thread::id where;
    int value = 0;
    REQUIRE(t.run_and_wait([&] {
        where = std::this_thread::get_id();
        value = 42;
    }));
    CHECK(value == 42);
    CHECK(where != std::this_thread::get_id());
    t.stop_when_idle(1s);
}

TEST_CASE("outbound thread: an exception in run_and_wait reaches the caller, the loop goes on") {
    outbound_thread t;
    t.start(nullptr);
    CHECK_THROWS_AS(t.run_and_wait([] { throw std::runtime_error("bad config"); }),
                    std::runtime_error);
    int value = 0;
    CHECK(t.run_and_wait([&] { value = 1; }));
    CHECK(value == 1);
    t.stop_when_idle(1s);
}

TEST_CASE("outbound thread: after a stop, run_and_wait does not run and does not hang") {
    outbound_thread t;
    t.start(nullptr);
    t.stop_now();
    bool ran = false;
    CHECK_FALSE(t.run_and_wait([&] { ran = true; }));
    CHECK_FALSE(ran);
    outbound_thread never_started;
    CHECK_FALSE(never_started.run_and_wait([&] { ran = true; }));
    CHECK_FALSE(ran);
}

TEST_CASE("outbound thread: a handler that throws ends the loop and reports once") {
    outbound_thread t;
    std::atomic<int> reports{0};
    t.start([&](const std::exception& e) {
        if (std::string(e.what()) == "boom") ++reports;
    });
    net::post(t.io(), [] { throw std::runtime_error("boom"); });
    for (int i = 0; i < 200 && !t.io().stopped(); ++i) std::this_thread::sleep_for(5ms);
    CHECK(t.io().stopped());
    t.stop_when_idle(1s);
    CHECK(reports == 1);
}

TEST_CASE("outbound thread: stop_when_idle lets queued work finish, and gives up on a timer") {
    outbound_thread t;
    t.start(nullptr);
    std::atomic<int> done{0};
    for (int i = 0; i < 100; ++i) net::post(t.io(), [&] { ++done; });
    // A timer far in the future keeps the loop busy: stop_when_idle must not wait for it.
    net::steady_timer far(t.io(), 1h);
    far.async_wait([](boost::system::error_code) {});
    const auto t0 = std::chrono::steady_clock::now();
    t.stop_when_idle(200ms);
    const auto took = std::chrono::steady_clock::now() - t0;
    CHECK(done == 100);
    CHECK(took < 5s);
    CHECK(t.io().stopped());
}
