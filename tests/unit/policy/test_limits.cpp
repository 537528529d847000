// tests/unit/policy/test_limits.cpp — connection limits and AUTH failure throttling.
#include "daemon/policy/auth_throttle.hpp"
#include "daemon/policy/connection_limiter.hpp"

#include <catch2/catch.hpp>

using namespace cartero::policy;
using namespace std::chrono_literals;

TEST_CASE("connections are limited per IP and in total") {
    connection_limiter lim;
    lim.set_limits(3, 2);
    CHECK(lim.try_acquire("a"));
    CHECK(lim.try_acquire("a"));
    CHECK_FALSE(lim.try_acquire("a")); // third from one IP
    CHECK(lim.try_acquire("b"));
    CHECK_FALSE(lim.try_acquire("c")); // fourth in total
    lim.release("a");
    CHECK(lim.try_acquire("c"));
    CHECK(lim.total() == 3);
    lim.release("zzz"); // unknown: ignored, no underflow
    CHECK(lim.total() == 3);
}

TEST_CASE("AUTH failures slow down, then refuse, then age out") {
    auth_throttle t;
    t.set_limits(2, 4, 10min);
    auto now = auth_throttle::clock::now();
    CHECK(t.delay("ip", now) == 0s);
    t.record_failure("ip", now);
    CHECK(t.delay("ip", now) == 0s);
    t.record_failure("ip", now);
    CHECK(t.delay("ip", now) > 0s);
    CHECK_FALSE(t.refused("ip", now));
    t.record_failure("ip", now);
    t.record_failure("ip", now);
    CHECK(t.refused("ip", now));
    CHECK_FALSE(t.refused("other", now));
    CHECK(t.failures("ip", now) == 4);
    CHECK_FALSE(t.refused("ip", now + 11min));
    CHECK(t.failures("ip", now + 11min) == 0);
}
