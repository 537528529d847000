// tests/unit/core/sending_store_test.cpp — core/sending_store: sender routes, transport routes
// (with their 0600 secret files) and pacing rules, with their refusals leaving nothing behind.
#include "core/config_db.hpp"
#include "core/sending_store.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

using namespace cartero::config;
using kind = config_error::kind;

namespace {

kind kind_of(auto&& f) {
    try {
        f();
    } catch (const config_error& e) {
        return e.which();
    }
    FAIL("no config_error thrown");
    return kind::storage;
}

std::string message_of(auto&& f) {
    try {
        f();
    } catch (const config_error& e) {
        return e.what();
    }
    return {};
}

} // namespace

TEST_CASE("sender routes: address or domain to an existing pool", "[sending_store]") {
    cartero::test::temp_dir tmp;
    config_db db(tmp.path("config.db"), true);
    add_pool(db, "a");
    add_pool(db, "b");
    auto r = add_sender_route(db, "News.Example", "B");
    CHECK(r.sender == "news.example");
    CHECK(r.pool == "b");
    CHECK(add_sender_route(db, "Boss@News.Example", "a").sender == "boss@news.example");
    CHECK(kind_of([&] { add_sender_route(db, "news.example", "a"); }) == kind::conflict);
    CHECK(kind_of([&] { add_sender_route(db, "other.example", "nosuch"); }) == kind::not_found);
    CHECK(kind_of([&] { add_sender_route(db, "not a domain", "a"); }) == kind::invalid);
    CHECK(kind_of([&] { add_sender_route(db, "@@x", "a"); }) == kind::invalid);
    auto all = list_sender_routes(db);
    REQUIRE(all.size() == 2);
    CHECK(all[0].sender == "boss@news.example");
    CHECK(all[0].pool == "a");
    CHECK(all[1].sender == "news.example");

    remove_sender_route(db, "NEWS.example");
    CHECK(list_sender_routes(db).size() == 1);
    CHECK(kind_of([&] { remove_sender_route(db, "news.example"); }) == kind::not_found);
    // Routes go with their pool.
    remove_pool(db, "a");
    CHECK(list_sender_routes(db).empty());
}

TEST_CASE("transport routes: next hops, relayhost, secrets written 0600 and removed",
          "[sending_store]") {
    cartero::test::temp_dir tmp;
    config_db db(tmp.path("config.db"), true);
    const std::string state = tmp.path();

    auto r = add_transport_route(db, state, {"Partner.Example", "Relay.Partner.Example", 2525, true, "", ""});
    CHECK(r.destination == "partner.example");
    CHECK(r.next_hop == "relay.partner.example");
    CHECK(r.auth_secret_path.empty());
    add_transport_route(db, state, {"*", "[2001:DB8::25]", 587, false, "smtp-user", ""}, "s3cret");
    CHECK(get_relayhost(db)->next_hop == "2001:db8::25");

    auto all = list_transport_routes(db);
    REQUIRE(all.size() == 2);
    CHECK(all[0].destination == "*"); // the relayhost first
    CHECK(all[0].port == 587);
    CHECK(all[0].auth_username == "smtp-user");
    CHECK(all[0].auth_secret_path == state + "/secrets/transport-relayhost.secret");
    CHECK(all[1].require_tls);
    CHECK(read_transport_secret(all[0]) == "s3cret");
    struct stat st {};
    REQUIRE(::stat(all[0].auth_secret_path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);

    // Refusals change nothing: no row, no file.
    CHECK(kind_of([&] { add_transport_route(db, state, {"partner.example", "x.example", 25, false, "", ""}); }) ==
          kind::conflict);
    CHECK(kind_of([&] { add_transport_route(db, state, {"other.example", "10.0.0.300", 25, false, "", ""}); }) ==
          kind::invalid);
    CHECK(message_of([&] { add_transport_route(db, state, {"other.example", "10.0.0.300", 25, false, "", ""}); }) ==
          "10.0.0.300 is not an IPv4 address");
    CHECK(kind_of([&] { add_transport_route(db, state, {"other.example", "bad host", 25, false, "", ""}); }) ==
          kind::invalid);
    CHECK(kind_of([&] { add_transport_route(db, state, {"other.example", "x.example", 0, false, "", ""}); }) ==
          kind::invalid);
    CHECK(kind_of([&] { add_transport_route(db, state, {"other.example", "x.example", 25, false, "u", ""}); }) ==
          kind::invalid); // AUTH user without a password
    CHECK(kind_of([&] { add_transport_route(db, state, {"other.example", "x.example", 25, false, "u", ""}, "a\nb"); }) ==
          kind::invalid);
    CHECK_FALSE(std::filesystem::exists(state + "/secrets/transport-other.example.secret"));
    CHECK(list_transport_routes(db).size() == 2);

    remove_transport_route(db, "*");
    CHECK_FALSE(std::filesystem::exists(state + "/secrets/transport-relayhost.secret"));
    CHECK_FALSE(get_relayhost(db).has_value());
    CHECK(kind_of([&] { remove_transport_route(db, "*"); }) == kind::not_found);
    CHECK(kind_of([&] { remove_transport_route(db, "nowhere.example"); }) == kind::not_found);
    CHECK(list_transport_routes(db).size() == 1);
}

TEST_CASE("pacing patterns: the syntax of daemon/outbound/pacing.hpp", "[sending_store]") {
    CHECK(normalize_pacing_pattern("Example.COM").value == "example.com");
    CHECK(normalize_pacing_pattern("*.Gmail.com").value == "*.gmail.com");
    CHECK(normalize_pacing_pattern("MX:*.google.com").value == "mx:*.google.com");
    CHECK(normalize_pacing_pattern("mx:aspmx.l.google.com").value == "mx:aspmx.l.google.com");
    for (const char* bad : {"", "*", "*.", "mx:", "a*.example.com", "*.*.example.com",
                            "exa mple.com", "example..com", "mx:*", "**.example.com"})
        CHECK_FALSE(normalize_pacing_pattern(bad));
    CHECK(normalize_pacing_pattern("a*.example.com").error.find("'a*.example.com'") !=
          std::string::npos);
}

TEST_CASE("pacing rules: add, update, list, remove; limits must be positive", "[sending_store]") {
    cartero::test::temp_dir tmp;
    config_db db(tmp.path("config.db"), true);
    auto r = add_pacing_rule(db, {"*.Example.org", 2, std::nullopt, 50, "partner asked"});
    CHECK(r.pattern == "*.example.org");
    add_pacing_rule(db, {"gmail.com", std::nullopt, 60, std::nullopt, ""});
    CHECK(kind_of([&] { add_pacing_rule(db, {"gmail.com", 1, {}, {}, ""}); }) == kind::conflict);
    CHECK(kind_of([&] { add_pacing_rule(db, {"bad pattern", 1, {}, {}, ""}); }) == kind::invalid);
    CHECK(kind_of([&] { add_pacing_rule(db, {"x.example", -1, {}, {}, ""}); }) == kind::invalid);
    CHECK(kind_of([&] { add_pacing_rule(db, {"x.example", 0, {}, {}, ""}); }) == kind::invalid);
    CHECK(kind_of([&] { add_pacing_rule(db, {"x.example", {}, {}, 100001, ""}); }) == kind::invalid);
    CHECK(kind_of([&] { add_pacing_rule(db, {"x.example", {}, {}, {}, ""}); }) == kind::invalid);
    CHECK(message_of([&] { add_pacing_rule(db, {"x.example", {}, -5, {}, ""}); }) ==
          "messages-per-minute -5 is out of range (1-1000000)");

    auto u = update_pacing_rule(db, {"*.example.org", std::nullopt, 30, std::nullopt, ""});
    CHECK(u.max_connections == 2); // kept
    CHECK(u.messages_per_minute == 30);
    CHECK(u.messages_per_connection == 50);
    CHECK(u.note == "partner asked"); // kept: no note given
    CHECK(kind_of([&] { update_pacing_rule(db, {"*.example.org", -2, {}, {}, ""}); }) == kind::invalid);
    CHECK(kind_of([&] { update_pacing_rule(db, {"nosuch.example", 1, {}, {}, ""}); }) == kind::not_found);

    auto all = list_pacing_rules(db);
    REQUIRE(all.size() == 2);
    CHECK(all[0].pattern == "*.example.org");
    CHECK(all[0].max_connections == 2);
    CHECK(all[1].pattern == "gmail.com");
    CHECK_FALSE(all[1].max_connections.has_value());
    CHECK(all[1].messages_per_minute == 60);

    remove_pacing_rule(db, "GMAIL.com");
    CHECK(list_pacing_rules(db).size() == 1);
    CHECK(kind_of([&] { remove_pacing_rule(db, "gmail.com"); }) == kind::not_found);
}

TEST_CASE("subdomain routes: .domain for senders and transport destinations", "[sending_store]") {
    cartero::test::temp_dir tmp;
    config_db db(tmp.path("config.db"), true);
    const std::string state = tmp.path("");
    add_pool(db, "a");
    CHECK(add_sender_route(db, ".Mail.Example", "a").sender == ".mail.example");
    CHECK(add_sender_route(db, "mail.example", "a").sender == "mail.example"); // a different key
    CHECK(kind_of([&] { add_sender_route(db, ".MAIL.example", "a"); }) == kind::conflict);
    for (const char* bad : {".", "..x.example", ".*.example", ". x.example", ".@x.example"})
        CHECK(kind_of([&] { add_sender_route(db, bad, "a"); }) == kind::invalid);
    auto r = add_transport_route(db, state, {".Partner.Example", "relay.example", 25, false, "", ""});
    CHECK(r.destination == ".partner.example");
    add_transport_route(db, state, {"partner.example", "other.example", 25, false, "", ""});
    for (const char* bad : {".", "..partner.example", ".*", ".bad host"})
        CHECK(kind_of([&] { add_transport_route(db, state, {bad, "x.example", 25, false, "", ""}); }) ==
              kind::invalid);
    CHECK(list_transport_routes(db).size() == 2);
    remove_transport_route(db, ".PARTNER.example");
    CHECK(list_transport_routes(db).size() == 1);
}
