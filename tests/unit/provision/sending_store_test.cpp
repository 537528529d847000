// tests/unit/provision/sending_store_test.cpp — core/sending_store: IPs, pools and the relayhost
// in config.db, with their validation errors.
#include "core/config_db.hpp"
#include "core/sending_store.hpp"
#include "../core/temp_dir.hpp"

#include <catch2/catch.hpp>

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
} // namespace

TEST_CASE("parse_ip: canonical text and the family-specific error", "[sending_store]") {
    CHECK(parse_ip("192.0.2.1").value.text == "192.0.2.1");
    CHECK(parse_ip("2001:DB8:0:0::1").value.text == "2001:db8::1");
    CHECK(parse_ip("2001:DB8:0:0::1").value.family == 6);
    CHECK(parse_ip("10.0.0.300").error == "10.0.0.300 is not an IPv4 address");
    CHECK(parse_ip("010.0.0.1").error == "010.0.0.1 is not an IPv4 address");
    CHECK(parse_ip("fe80::1%eth0").error == "fe80::1%eth0 is not an IPv6 address");
    CHECK_FALSE(parse_ip(""));
}

TEST_CASE("pools and IPs: add, list, update, remove, with clear refusals", "[sending_store]") {
    cartero::test::temp_dir tmp;
    config_db db(tmp.path("config.db"), true);
    CHECK(add_pool(db, "Default") == "default");
    CHECK(kind_of([&] { add_pool(db, "default"); }) == kind::conflict);
    CHECK(kind_of([&] { add_pool(db, "no spaces"); }) == kind::invalid);

    auto row = add_ip(db, {"2001:DB8::10", 0, "MX1.Acme.Example", "default", 10});
    CHECK(row.address == "2001:db8::10");
    CHECK(row.family == 6);
    CHECK(row.hostname == "mx1.acme.example");
    add_ip(db, {"192.0.2.11", 4, "mx2.acme.example", "", std::nullopt});
    CHECK(kind_of([&] { add_ip(db, {"192.0.2.11", 4, "x.acme.example", "", {}}); }) == kind::conflict);
    CHECK(kind_of([&] { add_ip(db, {"192.0.2.12", 4, "x.acme.example", "nosuch", {}}); }) == kind::not_found);
    CHECK(kind_of([&] { add_ip(db, {"192.0.2.300", 4, "x.acme.example", "", {}}); }) == kind::invalid);
    CHECK(kind_of([&] { add_ip(db, {"192.0.2.13", 4, "not a host", "", {}}); }) == kind::invalid);

    auto ips = list_ips(db);
    REQUIRE(ips.size() == 2);
    CHECK(ips[0].address == "192.0.2.11"); // IPv4 first
    CHECK(ips[0].pool.empty());
    CHECK_FALSE(ips[0].mx_preference);
    CHECK(ips[1].pool == "default");
    CHECK(ips[1].mx_preference == 10);

    CHECK(kind_of([&] { remove_pool(db, "default"); }) == kind::conflict);
    update_ip(db, {"2001:db8::10", 6, "mx1.acme.example", "", 5});
    CHECK(list_ips(db)[1].mx_preference == 5);
    CHECK(list_pools(db).at(0).ips == 0);
    remove_pool(db, "default");
    remove_ip(db, "192.0.2.11");
    CHECK(kind_of([&] { remove_ip(db, "192.0.2.11"); }) == kind::not_found);
    CHECK(list_ips(db).size() == 1);
}

TEST_CASE("relayhost: set, replace, clear", "[sending_store]") {
    cartero::test::temp_dir tmp;
    config_db db(tmp.path("config.db"), true);
    CHECK_FALSE(get_relayhost(db));
    set_relayhost(db, {"Relay.Example", 587});
    CHECK(get_relayhost(db)->next_hop == "relay.example");
    set_relayhost(db, {"2001:DB8::25", 25});
    CHECK(get_relayhost(db)->next_hop == "2001:db8::25");
    CHECK(get_relayhost(db)->port == 25);
    CHECK(kind_of([&] { set_relayhost(db, {"bad host", 25}); }) == kind::invalid);
    clear_relayhost(db);
    CHECK_FALSE(get_relayhost(db));
}
