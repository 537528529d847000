// tests/unit/control/protocol_test.cpp — control-socket framing and validation under hostile lines.
#include "core/control_protocol.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace cartero::control;
using json = nlohmann::json;

namespace {

request_error refused(std::string_view line) {
    auto r = parse_request(line);
    REQUIRE(std::holds_alternative<request_error>(r));
    return std::get<request_error>(r);
}

} // namespace

TEST_CASE("a well-formed request parses; args default to an empty object", "[protocol]") {
    auto r = parse_request(R"({"id": 7, "op": "queue.list", "args": {"limit": 5}})");
    REQUIRE(std::holds_alternative<request>(r));
    const auto& q = std::get<request>(r);
    CHECK(q.id == 7);
    CHECK(q.op == "queue.list");
    CHECK(q.args.at("limit") == 5);

    auto s = parse_request("{\"id\":1,\"op\":\"status\"}\r");
    REQUIRE(std::holds_alternative<request>(s));
    CHECK(std::get<request>(s).args.is_object());
}

TEST_CASE("bad JSON and oversized lines close the connection", "[protocol]") {
    auto e = refused("{\"id\": 1, \"op\": ");
    CHECK(e.close);
    CHECK(e.message.find("not valid JSON") != std::string::npos);
    CHECK(refused("\xff\xfe garbage").close);
    CHECK(refused("{\"id\":1,\"op\":\"status\",\"args\":{\"x\":\"\xc3\x28\"}}").close); // bad UTF-8

    std::string huge = "{\"id\":1,\"op\":\"status\",\"args\":{\"x\":\"" +
                       std::string(max_request_bytes, 'a') + "\"}}";
    auto h = refused(huge);
    CHECK(h.close);
    CHECK(h.message.find("longer than") != std::string::npos);

    std::string deep(100000, '[');
    CHECK(refused(deep).close); // never reaches the parser's recursion
}

TEST_CASE("wrong shapes get an error but keep the connection", "[protocol]") {
    CHECK_FALSE(refused("").close);
    CHECK_FALSE(refused("[1,2]").close);
    CHECK_FALSE(refused("42").close);
    auto noid = refused(R"({"op": "status"})");
    CHECK(noid.id.is_null());
    CHECK(noid.message.find("\"id\"") != std::string::npos);
    CHECK_FALSE(refused(R"({"id": "1", "op": "status"})").close);
    CHECK_FALSE(refused(R"({"id": 1.5, "op": "status"})").close);

    auto noop = refused(R"({"id": 3, "op": 5})");
    CHECK(noop.id == 3);
    auto unknown = refused(R"({"id": 4, "op": "queue.explode"})");
    CHECK(unknown.id == 4);
    CHECK(unknown.message.find("unknown op") != std::string::npos);
    CHECK(unknown.message.find("queue.list") != std::string::npos); // lists the known ones
    CHECK_FALSE(unknown.close);

    CHECK(refused(R"({"id": 5, "op": "status", "args": [1]})").message.find("args") !=
          std::string::npos);
    CHECK(refused(R"({"id": 6, "op": "status", "extra": 1})").message.find("extra") !=
          std::string::npos);
    // Control characters in an unknown op are not echoed raw.
    auto ctl = refused("{\"id\": 8, \"op\": \"a\\u001b[31m\"}");
    CHECK(ctl.message.find('\x1b') == std::string::npos);
}

TEST_CASE("response lines are one line, even with newlines and bad UTF-8 inside", "[protocol]") {
    std::string e = error_line(9, "two\nlines");
    CHECK(e.back() == '\n');
    CHECK(e.find('\n') == e.size() - 1);
    auto r = parse_response(e);
    CHECK_FALSE(r.ok);
    CHECK(r.error == "two lines");

    std::string ok = ok_line(10, json{{"reply", std::string("550 \xff\xfe bad")}});
    CHECK(ok.find('\n') == ok.size() - 1);
    auto o = parse_response(ok);
    CHECK(o.ok);
    CHECK(o.id == 10);
    CHECK(o.result.at("reply").get<std::string>().find("550") == 0);

    CHECK_THROWS_AS(parse_response("not json"), std::runtime_error);
    CHECK_THROWS_AS(parse_response(R"({"id":1,"ok":false})"), std::runtime_error);
}

TEST_CASE("args_reader checks types, ranges and unknown names", "[protocol]") {
    json args = {{"limit", 5}, {"state", "queued"}, {"held", true}};
    args_reader a("queue.list", args);
    CHECK(a.integer("limit", 1, 1000) == 5);
    CHECK(a.string("state") == "queued");
    CHECK(a.boolean("held") == true);
    CHECK_FALSE(a.string("sender"));
    CHECK_NOTHROW(a.finish());

    json bad_limit = {{"limit", 5000}};
    args_reader b("queue.list", bad_limit);
    CHECK_THROWS_WITH(b.integer("limit", 1, 1000),
                      "queue.list: \"limit\" must be an integer from 1 to 1000");
    json neg = {{"limit", -1}};
    args_reader n("queue.list", neg);
    CHECK_THROWS_AS(n.integer("limit", 1, 1000), args_error);
    json huge = {{"limit", 18446744073709551615ULL}};
    args_reader h("queue.list", huge);
    CHECK_THROWS_AS(h.integer("limit", 1, 1000), args_error);
    json str_limit = {{"limit", "5"}};
    args_reader s("queue.list", str_limit);
    CHECK_THROWS_AS(s.integer("limit", 1, 1000), args_error);
    json wrong = {{"held", "yes"}};
    args_reader w("queue.list", wrong);
    CHECK_THROWS_AS(w.boolean("held"), args_error);

    json typo = {{"limt", 5}};
    args_reader t("queue.list", typo);
    CHECK_FALSE(t.integer("limit", 1, 1000));
    CHECK_THROWS_WITH(t.finish(), Catch::Contains("unknown argument \"limt\""));

    json ctl = {{"id", "ABC\x01"}};
    args_reader c("queue.show", ctl);
    CHECK_THROWS_AS(c.required_string("id"), args_error);
    json empty = json::object();
    args_reader e("queue.show", empty);
    CHECK_THROWS_WITH(e.required_string("id"), "queue.show: \"id\" is required");
}

TEST_CASE("socket path and op table", "[protocol]") {
    CHECK(socket_path("/var/lib/cartero") == "/var/lib/cartero/control.sock");
    CHECK(socket_path("/var/lib/cartero/") == "/var/lib/cartero/control.sock");
    CHECK_THROWS_AS(socket_path("/" + std::string(200, 'x')), std::runtime_error);
    for (const char* op : {"status", "queue.list", "queue.show", "queue.hold", "queue.release",
                           "queue.retry", "queue.delete", "queue.bounce", "log.search",
                           "suppression.list", "suppression.add", "suppression.remove"})
        CHECK(find_op(op) != nullptr);
    CHECK(find_op("queue") == nullptr);
}
