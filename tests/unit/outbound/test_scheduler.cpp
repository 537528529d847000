// tests/unit/outbound/test_scheduler.cpp — the scheduler against a scripted transport and an
// injected clock: grouping, limits, retries, pauses, bounces, expiry, holds.
#include "daemon/outbound/scheduler.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

using namespace cartero;
using namespace cartero::outbound;

namespace {

struct fake_transport : transport {
    struct call {
        delivery_job job;
        std::function<void(std::vector<attempt_result>)> done;
    };
    std::vector<call> calls;
    bool tell_mx = true;  // report the MX host at once, as smtp_transport does after its lookup
    std::string mx_host;  // what it reports
    void deliver(delivery_job job, std::function<void(std::vector<attempt_result>)> done) override {
        calls.push_back({job, std::move(done)});
        if (tell_mx && job.next_hop_known) job.next_hop_known(mx_host);
    }
    // Answers every recipient of call i with `r` (delivered when 2xx).
    void answer(std::size_t i, const reply& r, bool connection_failed = false) {
        std::vector<attempt_result> out;
        for (const auto& item : calls[i].job.items)
            for (auto idx : item.rcpts) {
                attempt_result a;
                a.row_id = item.msg->rcpts[idx].row_id;
                a.delivered = r.positive();
                a.answer = r;
                a.connection_failed = connection_failed;
                out.push_back(a);
            }
        calls[i].done(std::move(out));
    }
};

struct fixture {
    boost::asio::io_context io;
    fake_transport t;
    std::int64_t now = 1'000'000;
    std::vector<recipient_outcome> recorded;
    std::vector<std::pair<std::string, std::size_t>> bounces;
    scheduler s;

    explicit fixture(pacing_limits limits = {1, 0, 2})
        : s(io.get_executor(), t, pacing_table(limits), retry_schedule(),
            scheduler_hooks{[](const outbound_message&) { return std::string("192.0.2.1"); },
                            [](const std::string&) { return std::string("mx.example.com"); },
                            [this](const std::vector<recipient_outcome>& o) {
                                recorded.insert(recorded.end(), o.begin(), o.end());
                            },
                            [this](const outbound_message& m, const std::vector<recipient_outcome>& f) {
                                bounces.emplace_back(m.id, f.size());
                            },
                            {}, {}, {}},
            [this] { return now; }) {}

    std::shared_ptr<outbound_message> msg(std::string id, std::vector<std::string> rcpts,
                                          std::string from = "sender@example.com") {
        auto m = std::make_shared<outbound_message>();
        m->id = id;
        m->mail_from = from;
        m->received_at = now;
        m->body = std::make_shared<const std::string>("Subject: t\r\n\r\nx\r\n");
        static std::int64_t row = 0;
        for (auto& r : rcpts) m->rcpts.push_back({++row, r, r, 0, 0, "", ""});
        return m;
    }
    void run() {
        io.restart();
        io.poll();
    }
};

} // namespace

TEST_CASE("recipients of one domain share a connection; limits split the work") {
    fixture f({1, 0, 2}); // one connection at a time, two messages per connection
    f.s.add(f.msg("A", {"x@example.org", "y@example.org"}));
    f.s.add(f.msg("B", {"z@example.org"}));
    f.s.add(f.msg("C", {"w@example.org"}));
    f.s.add(f.msg("D", {"v@other.net"}));
    f.s.tick();
    REQUIRE(f.t.calls.size() == 2); // example.org (1 connection) and other.net
    const auto& j = f.t.calls[0].job.domain == "example.org" ? f.t.calls[0].job : f.t.calls[1].job;
    CHECK(j.items.size() == 2);               // messages_per_connection
    CHECK(j.items[0].rcpts.size() == 2);      // both recipients of A in one transaction
    CHECK(j.source_ip == "192.0.2.1");
    CHECK(j.helo_name == "mx.example.com");
    std::size_t org = f.t.calls[0].job.domain == "example.org" ? 0 : 1;
    f.t.answer(org, reply(250, "2.0.0", "Ok"));
    f.run();
    REQUIRE(f.t.calls.size() == 3); // the slot freed: message C goes now
    CHECK(f.t.calls[2].job.items.size() == 1);
    CHECK(f.recorded.size() == 3);
    for (const auto& o : f.recorded) CHECK(o.kind == outcome_kind::delivered);
}

TEST_CASE("a temporary failure is retried on schedule; a permanent one bounces once per message") {
    fixture f;
    f.s.add(f.msg("A", {"x@example.org", "y@example.org"}));
    f.s.tick();
    REQUIRE(f.t.calls.size() == 1);
    // x deferred, y refused: answer per recipient.
    std::vector<attempt_result> r(2);
    r[0].row_id = f.t.calls[0].job.items[0].msg->rcpts[0].row_id;
    r[0].answer = reply(450, "4.2.1", "Mailbox busy");
    r[1].row_id = f.t.calls[0].job.items[0].msg->rcpts[1].row_id;
    r[1].answer = reply(550, "5.1.1", "No such user");
    f.t.calls[0].done(r);
    f.run();
    REQUIRE(f.recorded.size() == 2);
    CHECK(f.recorded[0].kind == outcome_kind::deferred);
    CHECK(f.recorded[0].next_attempt_at == f.now + 300);
    CHECK(f.recorded[1].kind == outcome_kind::failed);
    REQUIRE(f.bounces.size() == 1);
    CHECK(f.bounces[0] == std::make_pair(std::string("A"), std::size_t(1)));
    CHECK(f.t.calls.size() == 1); // nothing due yet
    f.now += 299;
    f.s.tick();
    CHECK(f.t.calls.size() == 1);
    f.now += 1;
    f.s.tick();
    REQUIRE(f.t.calls.size() == 2);
    CHECK(f.t.calls[1].job.items[0].rcpts.size() == 1);
    f.t.answer(1, reply(250, "2.0.0", "Ok"));
    f.run();
    CHECK(f.recorded.back().kind == outcome_kind::delivered);
    CHECK(f.s.pending_recipients() == 0);
}

TEST_CASE("pushback pauses the destination; the null sender is never bounced; expiry fails") {
    fixture f({2, 0, 10});
    f.s.add(f.msg("A", {"x@example.org"}));
    f.s.tick();
    f.t.answer(0, reply(421, "4.7.0", "Too many connections, slow down"));
    f.run();
    auto views = f.s.destinations();
    REQUIRE(views.size() == 1);
    CHECK(views[0].pause.until == f.now + 60);
    CHECK(views[0].pause.reply.find("421") == 0);
    f.s.add(f.msg("B", {"y@example.org"}));
    f.s.tick();
    CHECK(f.t.calls.size() == 1); // paused: no new connection
    f.now += 60;
    f.s.tick();
    CHECK(f.t.calls.size() == 2); // pause over: B goes (A waits for its own retry time)

    fixture g;
    g.s.add(g.msg("N", {"x@example.org"}, ""));
    g.s.tick();
    g.t.answer(0, reply(550, "5.1.1", "No such user"));
    g.run();
    CHECK(g.bounces.empty());
    CHECK(g.recorded.at(0).kind == outcome_kind::failed);

    fixture e;
    auto m = e.msg("E", {"x@example.org"});
    m->received_at = e.now - 5 * 24 * 3600 + 10; // 10 s before its lifetime ends
    e.s.add(m);
    e.s.tick();
    e.now += 20;
    e.t.answer(0, reply(451, "4.4.1", "Connection timed out"), true);
    e.run();
    CHECK(e.recorded.at(0).kind == outcome_kind::failed);
    CHECK(e.recorded.at(0).expired);
    CHECK(e.bounces.size() == 1);
}

TEST_CASE("held messages wait; release and retry make them due at once; remove forgets") {
    fixture f;
    auto a = f.msg("A", {"x@example.org"});
    f.s.hold("A");
    f.s.add(a);
    f.s.tick();
    CHECK(f.t.calls.empty());
    f.s.release("A");
    f.s.tick();
    REQUIRE(f.t.calls.size() == 1);
    f.t.answer(0, reply(451, "4.3.0", "Try later"));
    f.run();
    f.s.retry_now("A");
    f.s.tick();
    CHECK(f.t.calls.size() == 2);
    f.t.answer(1, reply(451, "4.3.0", "Try later"));
    f.run();
    f.s.remove("A");
    f.now += 10000;
    f.s.tick();
    CHECK(f.t.calls.size() == 2);
    CHECK(f.s.pending_recipients() == 0);
}

TEST_CASE("a rate limit spreads messages over time") {
    fixture f({5, 60, 100}); // 60 per minute: a burst of 60, then one per second
    for (int i = 0; i < 61; ++i) f.s.add(f.msg("M" + std::to_string(i), {"x@example.org"}));
    f.s.tick();
    std::size_t sent = 0;
    for (auto& c : f.t.calls) sent += c.job.items.size();
    CHECK(sent == 60);
    f.now += 1;
    f.s.tick();
    sent = 0;
    for (auto& c : f.t.calls) sent += c.job.items.size();
    CHECK(sent == 61);
}

TEST_CASE("new pacing rules apply to existing destinations at once") {
    fixture f({1, 0, 2}); // one connection, two messages per connection
    for (const char* id : {"A", "B", "C", "D"}) f.s.add(f.msg(id, {std::string("x") + id + "@example.org"}));
    f.s.tick();
    REQUIRE(f.t.calls.size() == 1);
    CHECK(f.t.calls[0].job.items.size() == 2);
    REQUIRE(f.s.destinations().size() == 1);
    CHECK(f.s.destinations()[0].limits.max_connections == 1);
    CHECK(f.s.destinations()[0].queued == 2);

    // An admin rule for the domain: three connections, one message each.
    pacing_table p({1, 0, 2});
    p.set_rules({{"example.org", 3, std::nullopt, 1, ""}});
    f.s.set_pacing(p);
    f.run();
    auto d = f.s.destinations();
    REQUIRE(d.size() == 1);
    CHECK(d[0].limits.max_connections == 3);
    CHECK(d[0].limits.messages_per_connection == 1);
    REQUIRE(f.t.calls.size() == 3); // the two waiting messages left at once, one per connection
    CHECK(f.t.calls[1].job.items.size() == 1);
    CHECK(f.t.calls[2].job.items.size() == 1);
    CHECK(d[0].connections == 3);
    CHECK(d[0].queued == 0);
}

TEST_CASE("a transaction accepted mid-job is recorded at once, and not again at the job's end") {
    fixture f({1, 0, 10});
    f.s.add(f.msg("A", {"x@example.org"}));
    f.s.add(f.msg("B", {"y@example.org"}));
    f.s.tick();
    REQUIRE(f.t.calls.size() == 1);
    auto& job = f.t.calls[0].job;
    REQUIRE(job.items.size() == 2);
    REQUIRE(job.delivered_early);
    attempt_result a;
    a.row_id = job.items[0].msg->rcpts[0].row_id;
    a.delivered = true;
    a.answer = reply(250, "2.0.0", "Ok");
    job.delivered_early({a});
    REQUIRE(f.recorded.size() == 1); // persisted while B is still under way
    CHECK(f.recorded[0].kind == outcome_kind::delivered);
    CHECK(f.recorded[0].attempt.message_id == job.items[0].msg->id);
    CHECK(f.recorded[0].attempt.recipient == job.items[0].msg->rcpts[0].address);
    job.delivered_early({a}); // a repeat changes nothing
    CHECK(f.recorded.size() == 1);
    f.t.answer(0, reply(250, "2.0.0", "Ok"));
    f.run();
    REQUIRE(f.recorded.size() == 2); // only B now
    CHECK(f.recorded[1].attempt.message_id == job.items[1].msg->id);
    CHECK(f.s.pending_recipients() == 0);
}

TEST_CASE("a delay DSN once per recipient after delay_warning, as NOTIFY allows, never to <>") {
    boost::asio::io_context io;
    fake_transport t;
    std::int64_t now = 1'000'000;
    std::vector<std::pair<std::string, std::vector<std::string>>> delayed;
    retry_settings rs;
    rs.delay_warning = std::chrono::hours(1);
    scheduler_hooks hooks;
    hooks.delayed = [&](const outbound_message& m, const std::vector<recipient_outcome>& d) {
        std::vector<std::string> who;
        for (const auto& o : d) {
            CHECK(o.kind == outcome_kind::deferred);
            who.push_back(o.attempt.recipient);
        }
        delayed.emplace_back(m.id, who);
    };
    scheduler s(io.get_executor(), t, pacing_table({10, 0, 10}), retry_schedule(rs), hooks,
                [&] { return now; });
    auto make = [&](std::string id, std::string from) {
        auto m = std::make_shared<outbound_message>();
        m->id = id;
        m->mail_from = from;
        m->received_at = now;
        m->body = std::make_shared<const std::string>("Subject: t\r\n\r\nx\r\n");
        std::int64_t row = id == "A" ? 10 : 20;
        for (std::string notify : {"", "DELAY,FAILURE", "failure", "NEVER"})
            m->rcpts.push_back({++row, "r" + std::to_string(row) + "@example.org", "", 0, 0, notify, ""});
        return m;
    };
    s.add(make("A", "sender@example.com"));
    s.add(make("B", "")); // a DSN itself: never reported on
    auto defer_all = [&] {
        s.tick();
        REQUIRE(!t.calls.empty());
        t.answer(t.calls.size() - 1, reply(451, "4.3.0", "Try later"));
        io.restart();
        io.poll();
    };
    defer_all(); // at arrival: too young for a warning
    CHECK(delayed.empty());
    now += 3600;
    s.retry_now("A");
    s.retry_now("B");
    defer_all();
    REQUIRE(delayed.size() == 1);
    CHECK(delayed[0].first == "A");
    CHECK(delayed[0].second == std::vector<std::string>{"r11@example.org", "r12@example.org"});
    now += 3600;
    s.retry_now("A");
    defer_all(); // told already: not again
    CHECK(delayed.size() == 1);
}

TEST_CASE("delay_warning 0: no delay DSN however old the message") {
    boost::asio::io_context io;
    fake_transport t;
    std::int64_t now = 1'000'000;
    int delayed = 0;
    scheduler_hooks hooks;
    hooks.delayed = [&](const outbound_message&, const std::vector<recipient_outcome>&) { ++delayed; };
    scheduler s(io.get_executor(), t, pacing_table({10, 0, 10}), retry_schedule(), hooks,
                [&] { return now; });
    auto m = std::make_shared<outbound_message>();
    m->id = "A";
    m->mail_from = "sender@example.com";
    m->received_at = now - 4 * 86400;
    m->rcpts.push_back({1, "x@example.org", "", 0, 0, "DELAY", ""});
    s.add(m);
    s.tick();
    REQUIRE(t.calls.size() == 1);
    t.answer(0, reply(451, "4.3.0", "Try later"));
    io.restart();
    io.poll();
    CHECK(delayed == 0);
}

TEST_CASE("mx: pacing rules apply once the transport names the MX host; one probe until then") {
    for (std::string mx : {"mx1.mx.example.net", "mx.elsewhere.example"}) {
        boost::asio::io_context io;
        fake_transport t;
        t.tell_mx = false;
        std::int64_t now = 1'000'000;
        pacing_table pacing({5, 0, 1}); // one message per connection: 4 messages, 4 connections
        pacing.set_rules({{"mx:*.mx.example.net", 2, std::nullopt, std::nullopt, "test"}});
        scheduler s(io.get_executor(), t, pacing, retry_schedule(), scheduler_hooks{},
                    [&] { return now; });
        for (int i = 0; i < 4; ++i) {
            auto m = std::make_shared<outbound_message>();
            m->id = "M" + std::to_string(i);
            m->mail_from = "a@example.com";
            m->received_at = now;
            m->rcpts.push_back({i + 1, "x" + std::to_string(i) + "@hosted.example", "", 0, 0, "", ""});
            s.add(m);
        }
        s.tick();
        REQUIRE(t.calls.size() == 1); // the probe: the MX host is not known yet
        t.calls[0].job.next_hop_known(mx);
        io.restart();
        io.poll();
        auto v = s.destinations();
        REQUIRE(v.size() == 1);
        if (mx == "mx1.mx.example.net") {
            CHECK(v[0].limits.max_connections == 2); // the mx: rule
            CHECK(t.calls.size() == 2);
        } else {
            CHECK(v[0].limits.max_connections == 5); // no rule matches that MX host
            CHECK(t.calls.size() == 4);
        }
    }
}

TEST_CASE("a connection is reused: refill hands it more mail, a parked one is woken for new work") {
    fixture f({1, 0, 3}); // one connection, three messages per connection
    f.s.add(f.msg("A", {"x@example.org"}));
    f.s.tick();
    REQUIRE(f.t.calls.size() == 1);
    auto& job = f.t.calls[0].job;
    REQUIRE(job.refill);
    REQUIRE(job.park);
    CHECK(job.refill().empty()); // nothing more yet
    bool woken = false;
    auto wake = std::make_shared<std::function<void()>>([&] { woken = true; });
    CHECK(job.park(wake));
    f.s.add(f.msg("B", {"y@example.org"}));
    f.s.add(f.msg("C", {"z@example.org"}));
    f.s.add(f.msg("D", {"w@example.org"}));
    f.s.tick();
    CHECK(woken);                    // the parked connection is told, no new connection opens
    CHECK(f.t.calls.size() == 1);
    auto more = job.refill();
    REQUIRE(more.size() == 2);       // B and C: A + 2 = its cap of 3
    CHECK(job.refill().empty());     // cap reached: D waits for another connection
    // …and this one must not park (holding the only connection slot): it QUITs at once.
    auto wake2 = std::make_shared<std::function<void()>>([] {});
    CHECK_FALSE(job.park(wake2));
    // The transport reports every recipient it carried, the refilled ones too.
    std::vector<attempt_result> r;
    for (const auto* item : {&job.items[0], &more[0], &more[1]}) {
        attempt_result a;
        a.row_id = item->msg->rcpts[item->rcpts[0]].row_id;
        a.delivered = true;
        a.answer = reply(250, "2.0.0", "Ok");
        r.push_back(a);
    }
    f.t.calls[0].done(r);
    f.run();
    CHECK(f.recorded.size() == 3);
    REQUIRE(f.t.calls.size() == 2);  // D on the next connection
    CHECK(f.t.calls[1].job.items.size() == 1);
    wake.reset();                    // an expired registration is skipped
    f.s.add(f.msg("E", {"v@example.org"}));
    f.s.tick();
    CHECK(f.t.calls.size() == 2);    // the connection is busy (limit 1): E waits in the queue
}

TEST_CASE("a reused connection: two recipients sharing a reused row id are both recorded") {
    // queue.db reuses the id of a deleted row: A's row is gone once A is delivered, so B, queued
    // meanwhile and refilled onto A's connection, can get the same recipients.id.
    fixture f({1, 0, 3});
    auto a = f.msg("A", {"x@example.org"});
    f.s.add(a);
    f.s.tick();
    REQUIRE(f.t.calls.size() == 1);
    auto& job = f.t.calls[0].job;
    auto b = f.msg("B", {"y@example.org"});
    b->rcpts[0].row_id = a->rcpts[0].row_id;
    f.s.add(b);
    f.s.tick(); // B is ready; the only connection slot is A's
    auto more = job.refill();
    REQUIRE(more.size() == 1);
    std::vector<attempt_result> r;
    for (const auto& m : {a, b}) {
        attempt_result x;
        x.row_id = m->rcpts[0].row_id;
        x.message_id = m->id; // the transport names the message
        x.delivered = true;
        x.answer = reply(250, "2.0.0", "Ok");
        job.delivered_early({x}); // one transaction after the other
        r.push_back(x);
    }
    f.t.calls[0].done(r);
    f.run();
    REQUIRE(f.recorded.size() == 2); // each once: early, not again at the job's end
    CHECK(f.recorded[0].attempt.message_id == "A");
    CHECK(f.recorded[1].attempt.message_id == "B");
    CHECK(f.recorded[1].kind == outcome_kind::delivered);
    CHECK(f.s.pending_recipients() == 0);
}

TEST_CASE("a body that cannot be loaded is never sent and is looked at again later") {
    fixture f({1, 0, 5});
    int loads = 0;
    bool readable = false;
    scheduler s(f.io.get_executor(), f.t, pacing_table(pacing_limits{1, 0, 5}), retry_schedule(),
                scheduler_hooks{[](const outbound_message&) { return std::string("192.0.2.1"); },
                                [](const std::string&) { return std::string("mx.example.com"); },
                                [](const std::vector<recipient_outcome>&) {},
                                [](const outbound_message&, const std::vector<recipient_outcome>&) {},
                                {},
                                [&](const std::string&) -> std::shared_ptr<const std::string> {
                                    ++loads;
                                    if (!readable) return nullptr; // e.g. its spool file is gone
                                    return std::make_shared<const std::string>("Subject: t\r\n\r\nx\r\n");
                                },
                                {}},
                [&f] { return f.now; });
    auto m = f.msg("A", {"x@example.org"});
    m->body.reset(); // not in memory: the scheduler loads it
    s.add(m);
    s.tick();
    CHECK(loads == 1);
    CHECK(f.t.calls.empty()); // nothing sent, not even an empty message
    CHECK(s.pending_recipients() == 1);
    f.now += 299;
    s.tick();
    CHECK(loads == 1);        // not before the retry time
    readable = true;
    f.now += 1;
    s.tick();
    CHECK(loads == 2);
    REQUIRE(f.t.calls.size() == 1);
    REQUIRE(f.t.calls[0].job.items.size() == 1);
    CHECK(f.t.calls[0].job.items[0].msg->body);
}
