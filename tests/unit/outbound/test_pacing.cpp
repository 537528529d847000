// tests/unit/outbound/test_pacing.cpp — retry schedule, pacing rules, pauses and rate tokens.
#include "daemon/outbound/destination.hpp"
#include "daemon/outbound/pacing.hpp"
#include "daemon/outbound/retry_schedule.hpp"

#include <catch2/catch.hpp>

using namespace cartero;
using namespace cartero::outbound;
using namespace std::chrono_literals;

TEST_CASE("retry gaps grow from 5 minutes to an hour and stop at the lifetime") {
    retry_schedule r;
    CHECK(r.delay_after(1) == 300s);
    CHECK(r.delay_after(2) == 600s);
    CHECK(r.delay_after(3) == 1200s);
    CHECK(r.delay_after(4) == 2400s);
    CHECK(r.delay_after(5) == 3600s);
    CHECK(r.delay_after(50) == 3600s);
    CHECK(r.delay_after(4000000000u) == 3600s); // no overflow
    const std::int64_t t0 = 1'000'000;
    CHECK(r.next_attempt(t0, t0 + 10, 1) == t0 + 10 + 300);
    // Never scheduled past the expiry; at or after it: expired.
    const std::int64_t expiry = t0 + 5 * 24 * 3600;
    CHECK(r.next_attempt(t0, expiry - 100, 9) == expiry);
    CHECK_FALSE(r.next_attempt(t0, expiry, 9).has_value());
    CHECK_FALSE(r.next_attempt(t0, expiry + 1, 1).has_value());
}

TEST_CASE("pacing: admin rules beat shipped ones, specific beats general, fields inherit") {
    pacing_table t({4, 0, 100});
    CHECK(t.limits_for("example.org").max_connections == 4);
    CHECK(t.limits_for("gmail.com").max_connections == 10);
    CHECK(t.limits_for("gmail.com").messages_per_minute == 600);
    CHECK(t.limits_for("customer.example", "aspmx.l.google.com").max_connections == 10);
    CHECK(t.limits_for("notgmail.com").max_connections == 4); // label boundary
    t.set_rules({{"gmail.com", 2, std::nullopt, std::nullopt, ""},
                 {"*.example.org", std::nullopt, 30, std::nullopt, ""}});
    auto g = t.limits_for("gmail.com");
    CHECK(g.max_connections == 2);
    CHECK(g.messages_per_minute == 600); // inherited from the shipped rule
    CHECK(t.limits_for("mail.example.org").messages_per_minute == 30);
    CHECK(t.limits_for("example.org").messages_per_minute == 30);
    CHECK(t.limits_for("example.net").messages_per_minute == 0);
}

TEST_CASE("slow-down replies pause a destination with a growing delay") {
    CHECK(means_slow_down(reply(421, "4.7.0", "Try again later, closing connection")));
    CHECK(means_slow_down(reply(450, "4.7.1", "Our system has detected an unusual rate")));
    CHECK(means_slow_down(reply(451, "4.3.2", "Too many connections from your IP")));
    CHECK_FALSE(means_slow_down(reply(450, "4.2.1", "Mailbox busy")));
    CHECK_FALSE(means_slow_down(reply(550, "5.7.1", "Rate limit exceeded"))); // permanent: a bounce
    CHECK_FALSE(means_slow_down(reply(452, "4.2.2", "Mailbox full")));

    destination d("gmail.com", "192.0.2.1", {2, 0, 100});
    const std::int64_t now = 1000;
    CHECK(d.may_connect(now));
    d.connection_opened();
    d.connection_opened();
    CHECK_FALSE(d.may_connect(now)); // max_connections
    d.connection_closed();
    CHECK(d.may_connect(now));
    d.pause_for("rate limited by remote", "421 4.7.0 slow down", now);
    CHECK(d.paused(now + 59));
    CHECK_FALSE(d.may_connect(now + 59));
    CHECK_FALSE(d.paused(now + 60));
    d.pause_for("again", "421", now + 60);
    CHECK(d.pause().until == now + 60 + 120);
    CHECK(d.pause().reply == "421");
    for (int i = 0; i < 20; ++i) d.pause_for("x", "y", now);
    CHECK(d.pause().until == now + 3600); // capped
    d.delivered_ok();
    d.pause_for("x", "y", now);
    CHECK(d.pause().until == now + 60); // streak reset
}

TEST_CASE("message rate: a minute's burst, then one token per 60/rate seconds") {
    destination d("example.org", "", {5, 6, 100}); // 6 per minute = one per 10 s
    double t = 100.0;
    for (int i = 0; i < 6; ++i) CHECK(d.take_message_token(t));
    CHECK_FALSE(d.take_message_token(t));
    CHECK(d.seconds_until_token(t) == Approx(10.0));
    CHECK_FALSE(d.take_message_token(t + 9.0));
    CHECK(d.take_message_token(t + 10.5));
    destination unlimited("x.org", "", {5, 0, 100});
    for (int i = 0; i < 1000; ++i) CHECK(unlimited.take_message_token(t));
}
