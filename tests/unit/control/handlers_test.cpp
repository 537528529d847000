// tests/unit/control/handlers_test.cpp — control ops end to end over a real queue.db (no socket):
// list, show, hold/release events, retry, delete and bounce with their log rows, log search.
#include "daemon/control/control_handlers.hpp"
#include "daemon/queue/queue_admin.hpp"
#include "tests/unit/queue/test_support.hpp"

#include <catch2/catch.hpp>

#include <future>
#include <mutex>

using namespace cartero;
using json = nlohmann::json;

namespace {

queue::message make(const std::string& from, std::vector<std::string> remote) {
    queue::message m;
    m.id = queue::new_queue_id();
    m.mail_from = from;
    m.received_at = 1795000000;
    m.body = "Received: x\r\nSubject: t\r\nmessage-id:\r\n\t<Id-1@Example.test>  \r\n\r\nbody\r\n";
    for (auto& r : remote) m.rcpts.push_back({r, r, queue::rcpt_kind::remote, "", 0});
    return m;
}

void enqueue(queue::store& s, queue::message m) {
    std::promise<std::optional<std::string>> p;
    s.enqueue(std::move(m), [&p](std::optional<std::string> e) { p.set_value(e); });
    REQUIRE_FALSE(p.get_future().get());
}

json call(control::handlers& h, const std::string& op, json args) {
    auto parsed = control::parse_request(control::request_line(1, op, args));
    REQUIRE(std::holds_alternative<control::request>(parsed));
    std::string line = h.handle(std::get<control::request>(parsed));
    auto r = control::parse_response(line);
    if (!r.ok) return json{{"error", r.error}};
    return r.result;
}

} // namespace

TEST_CASE("Message-ID is extracted at enqueue: folded, any case, stops at the body",
          "[control][queue]") {
    CHECK(queue::extract_message_id("Subject: a\r\nMessage-ID: <a@b>\r\n\r\n") == "<a@b>");
    CHECK(queue::extract_message_id("MESSAGE-id:\r\n <a@b>\r\n\r\n") == "<a@b>");
    CHECK(queue::extract_message_id("Subject: a\r\n\r\nMessage-ID: <body@x>\r\n").empty());
    CHECK(queue::extract_message_id("X-Message-ID: <no@x>\r\n\r\n").empty());
    CHECK(queue::extract_message_id("").empty());
}

TEST_CASE("control ops over a real queue", "[control]") {
    test::temp_dir dir;
    auto store = queue::store::open({dir.path / "queue.db"});
    queue::queue_admin admin(*store, dir.path / "queue.db");
    control::daemon_status st;
    st.version = "test";
    control::handlers h(admin, st);

    std::mutex mu;
    std::vector<queue::admin_event> events;
    auto token = store->add_admin_listener([&](const queue::admin_event& e) {
        std::lock_guard lk(mu);
        events.push_back(e);
    });

    auto m1 = make("bob@sender.example", {"a@remote.example", "b@remote.example"});
    auto m2 = make("carol@sender.example", {"c@remote.example"});
    const auto id1 = m1.id, id2 = m2.id;
    enqueue(*store, std::move(m1));
    enqueue(*store, std::move(m2));

    auto list = call(h, "queue.list", json::object());
    REQUIRE(list.at("total") == 2);
    CHECK(list.at("messages")[0].at("id") == id1);
    CHECK(list.at("messages")[0].at("message_id") == "<Id-1@Example.test>");
    CHECK(list.at("messages")[0].at("recipients").size() == 2);
    CHECK(call(h, "queue.list", {{"sender", "carol"}}).at("total") == 1);
    CHECK(call(h, "queue.list", {{"recipient", "b@remote"}}).at("total") == 1);
    CHECK(call(h, "queue.list", {{"limit", 1}}).at("messages").size() == 1);
    CHECK(call(h, "queue.list", {{"state", "bogus"}}).contains("error"));

    auto show = call(h, "queue.show", {{"id", id1}});
    CHECK(show.at("headers").get<std::string>().find("Subject: t") != std::string::npos);
    CHECK(show.at("headers").get<std::string>().find("body") == std::string::npos);
    CHECK(call(h, "queue.show", {{"id", "NOPE"}}).at("error").get<std::string>().find(
              "no message NOPE") == 0);
    CHECK(call(h, "queue.show", {{"id", "../x"}}).contains("error"));

    CHECK(call(h, "queue.hold", {{"id", id1}}).at("held") == true);
    CHECK(call(h, "queue.list", {{"held", true}}).at("total") == 1);
    CHECK(call(h, "queue.release", {{"id", id1}}).at("held") == false);
    CHECK(call(h, "queue.list", {{"held", true}}).at("total") == 0);
    CHECK(call(h, "queue.retry", {{"id", id1}}).at("recipients") == 2);

    CHECK(call(h, "queue.bounce", {{"id", id2}}).at("recipients") == 1);
    auto b = call(h, "queue.show", {{"id", id2}});
    CHECK(b.at("recipients")[0].at("state") == "failed");
    CHECK(b.at("recipients")[0].at("last_reply") == "550 5.0.0 Bounced by the administrator");
    CHECK(b.at("log")[0].at("result") == "bounced");

    CHECK(call(h, "queue.delete", {{"id", id1}}).at("recipients") == 2);
    CHECK(call(h, "queue.show", {{"id", id1}}).contains("error"));
    auto log = call(h, "log.search", {{"query", id1}}).at("rows");
    REQUIRE(log.size() == 2);
    CHECK(log[0].at("result") == "failed");
    CHECK(log[0].at("reply") == "deleted by admin");
    CHECK(log[0].at("sender") == "bob@sender.example");
    CHECK(call(h, "log.search", {{"query", "Id-1@Example.test"}}).at("rows").size() == 3);
    CHECK(call(h, "log.search", {{"query", "<Id-1@Example.test>"}}).at("rows").size() == 3);
    CHECK(call(h, "log.search", {{"query", "carol@sender.example"}}).at("rows").size() == 1);
    CHECK(call(h, "log.search", {{"query", "C@Remote.Example"}}).at("rows").size() == 1);

    auto status = call(h, "status", json::object());
    CHECK(status.at("version") == "test");
    CHECK(status.at("queue").at("messages") == 1);
    CHECK(status.at("queue").at("recipients").at("failed").at("remote") == 1);

    CHECK(call(h, "suppression.add", {{"address", "X@Example.org"}}).at("added") == true);
    CHECK(call(h, "suppression.add", {{"address", "x@example.org"}}).at("added") == false);
    CHECK(call(h, "suppression.list", json::object()).at("rows")[0].at("address") ==
          "x@example.org");
    CHECK(call(h, "suppression.add", {{"address", "not an address"}}).contains("error"));
    CHECK(call(h, "suppression.remove", {{"address", "x@example.org"}}).at("removed") == true);
    CHECK(call(h, "suppression.remove", {{"address", "x@example.org"}}).contains("error"));

    store->remove_admin_listener(token);
    std::lock_guard lk(mu);
    REQUIRE(events.size() == 5);
    CHECK(events[0].action == queue::admin_action::held);
    CHECK(events[1].action == queue::admin_action::released);
    CHECK(events[2].action == queue::admin_action::retried);
    CHECK(events[3].action == queue::admin_action::bounced);
    CHECK(events[3].recipients == std::vector<std::string>{"c@remote.example"});
    CHECK(events[4].action == queue::admin_action::deleted);
    store->stop();
}

TEST_CASE("held messages are left out of local recovery", "[control][queue]") {
    test::temp_dir dir;
    std::string id;
    {
        auto store = queue::store::open({dir.path / "queue.db"});
        queue::message m = make("bob@sender.example", {});
        m.rcpts.push_back({"u@local.test", "u@local.test", queue::rcpt_kind::local,
                           (dir.path / "mail").string(), 0});
        id = m.id;
        enqueue(*store, std::move(m));
        queue::queue_admin admin(*store, dir.path / "queue.db");
        admin.hold(id);
        CHECK(store->load_pending_local().empty());
        admin.release(id);
        CHECK(store->load_pending_local().size() == 1);
        store->stop();
    }
}
