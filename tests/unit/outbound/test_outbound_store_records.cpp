// tests/unit/outbound/test_outbound_store_records.cpp — outcomes recorded in a real queue.db:
// a message goes when its last recipient is delivered (whichever way write_records gets
// there), stays while any is pending, and every attempt leaves a delivery_log row that names
// the sender.
#include "daemon/outbound/outbound_store.hpp"
#include "daemon/outbound/scheduler.hpp"
#include "tests/unit/queue/test_support.hpp"

#include <catch2/catch.hpp>

using namespace cartero;
using cartero::outbound::outcome_kind;
using cartero::outbound::recipient_outcome;
using cartero::test::enqueue_wait;
using cartero::test::query_int;
using cartero::test::temp_dir;

namespace {

queue::message remote_message(std::initializer_list<const char*> rcpts) {
    queue::message m;
    m.id = queue::new_queue_id();
    m.mail_from = "sender@example.org";
    m.helo = "client.example.org";
    m.client_ip = "192.0.2.1";
    m.received_at = 1700000000;
    m.message_id_header = "<" + m.id + "@example.org>";
    m.body = "Subject: t\r\n\r\nbody\r\n";
    for (const char* a : rcpts) {
        queue::recipient r;
        r.rcpt_to = r.deliver_to = a;
        r.kind = queue::rcpt_kind::remote;
        m.rcpts.push_back(r);
    }
    return m;
}

struct fixture {
    temp_dir dir;
    std::filesystem::path db = dir.path / "queue.db";
    std::unique_ptr<queue::store> store = queue::store::open({db});
    outbound::outbound_store out{*store};

    std::string add(std::initializer_list<const char*> rcpts) {
        auto m = remote_message(rcpts);
        const std::string id = m.id;
        REQUIRE_FALSE(enqueue_wait(*store, std::move(m)));
        return id;
    }
    std::int64_t row(const std::string& id, const std::string& rcpt) {
        return query_int(db, "SELECT id FROM recipients WHERE message_id = '" + id +
                                 "' AND deliver_to = '" + rcpt + "'");
    }
    recipient_outcome outcome(const std::string& id, const std::string& rcpt, outcome_kind k) {
        recipient_outcome o;
        o.kind = k;
        o.attempts = 1;
        o.attempt.row_id = row(id, rcpt);
        o.attempt.message_id = id;
        o.attempt.recipient = rcpt;
        o.attempt.delivered = k == outcome_kind::delivered;
        o.attempt.answer = k == outcome_kind::delivered ? reply(250, "2.0.0", "Ok: queued as X1")
                                                        : reply(451, "4.3.0", "try later");
        o.attempt.dest_host = "mx.remote.example";
        o.attempt.dest_ip = "127.0.0.9";
        if (k == outcome_kind::deferred) o.next_attempt_at = 1900000000;
        return o;
    }
    void record(std::vector<recipient_outcome> v) {
        out.record(v);
        store->flush();
    }
    std::int64_t count(const std::string& sql) { return query_int(db, sql); }
};

} // namespace

TEST_CASE("outbound_store records: one recipient delivered, the message goes with a full log row") {
    fixture f;
    const auto id = f.add({"a@remote.example"});
    f.record({f.outcome(id, "a@remote.example", outcome_kind::delivered)});
    CHECK(f.count("SELECT count(*) FROM messages WHERE id = '" + id + "'") == 0);
    CHECK(f.count("SELECT count(*) FROM recipients WHERE message_id = '" + id + "'") == 0);
    CHECK(f.count("SELECT count(*) FROM delivery_log WHERE message_id = '" + id +
                  "' AND result = 'delivered' AND sender = 'sender@example.org' AND message_id_header = '<" +
                  id + "@example.org>' AND reply LIKE '250 2.0.0 Ok: queued as X1%' AND dest_ip = '127.0.0.9'") == 1);
}

TEST_CASE("outbound_store records: the message stays while a recipient is pending, goes with the last") {
    fixture f;
    const auto id = f.add({"a@remote.example", "b@remote.example"});
    f.record({f.outcome(id, "a@remote.example", outcome_kind::delivered)});
    CHECK(f.count("SELECT count(*) FROM messages WHERE id = '" + id + "'") == 1);
    CHECK(f.count("SELECT count(*) FROM recipients WHERE message_id = '" + id +
                  "' AND deliver_to = 'a@remote.example' AND state = 'delivered' AND attempts = 1") == 1);
    CHECK(f.count("SELECT count(*) FROM recipients WHERE message_id = '" + id +
                  "' AND deliver_to = 'b@remote.example' AND state = 'queued'") == 1);

    f.record({f.outcome(id, "b@remote.example", outcome_kind::deferred)});
    CHECK(f.count("SELECT count(*) FROM messages WHERE id = '" + id + "'") == 1);
    CHECK(f.count("SELECT count(*) FROM recipients WHERE message_id = '" + id +
                  "' AND deliver_to = 'b@remote.example' AND state = 'deferred' AND next_attempt_at = 1900000000") == 1);

    f.record({f.outcome(id, "b@remote.example", outcome_kind::delivered)});
    CHECK(f.count("SELECT count(*) FROM messages WHERE id = '" + id + "'") == 0);
    CHECK(f.count("SELECT count(*) FROM recipients WHERE message_id = '" + id + "'") == 0);
    CHECK(f.count("SELECT count(*) FROM delivery_log WHERE message_id = '" + id +
                  "' AND sender = 'sender@example.org'") == 3);
}

TEST_CASE("outbound_store records: several outcomes of one message in one batch") {
    fixture f;
    const auto both = f.add({"a@remote.example", "b@remote.example"});
    const auto mixed = f.add({"a@remote.example", "b@remote.example"});
    const auto single = f.add({"c@remote.example"});
    f.record({f.outcome(both, "a@remote.example", outcome_kind::delivered),
              f.outcome(mixed, "a@remote.example", outcome_kind::delivered),
              f.outcome(single, "c@remote.example", outcome_kind::delivered),
              f.outcome(both, "b@remote.example", outcome_kind::delivered),
              f.outcome(mixed, "b@remote.example", outcome_kind::deferred)});
    CHECK(f.count("SELECT count(*) FROM messages WHERE id IN ('" + both + "', '" + single + "')") == 0);
    CHECK(f.count("SELECT count(*) FROM recipients WHERE message_id IN ('" + both + "', '" + single + "')") == 0);
    CHECK(f.count("SELECT count(*) FROM messages WHERE id = '" + mixed + "'") == 1);
    CHECK(f.count("SELECT count(*) FROM recipients WHERE message_id = '" + mixed +
                  "' AND state IN ('delivered', 'deferred')") == 2);
    CHECK(f.count("SELECT count(*) FROM delivery_log WHERE sender = 'sender@example.org'") == 5);
}
