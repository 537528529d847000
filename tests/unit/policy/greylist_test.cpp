// tests/unit/policy/greylist_test.cpp — greylisting decisions with an injected clock: delay,
// retry window, pass and remember, network auto-whitelist, static whitelist, expiry, limits.
#include "daemon/policy/greylist.hpp"

#include <catch2/catch.hpp>

using namespace cartero;
using cartero::policy::greylist;
using cartero::policy::greylist_change;

namespace {

struct fixture {
    std::int64_t now = 1'800'000'000;
    std::vector<greylist_change> saved;
    greylist g{[this] { return now; },
               [this](std::vector<greylist_change> c) {
                   saved.insert(saved.end(), c.begin(), c.end());
               },
               1000};

    explicit fixture(int delay = 300) {
        auto cfg = std::make_shared<config::greylist_config>();
        config::greylist_domain_row d;
        d.domain = "example.com";
        d.delay_seconds = delay;
        d.retry_window_seconds = 3600;
        d.expiry_days = 35;
        cfg->domains.emplace(d.domain, d);
        g.set_config(cfg);
    }
    std::optional<reply> check(const char* ip = "192.0.2.10", const char* from = "a@remote.example",
                               const char* to = "bob@example.com") {
        return g.check(ip, from, to);
    }
};

} // namespace

TEST_CASE("an unknown triplet is refused with 451 4.7.1 and the wait") {
    fixture f;
    auto r = f.check();
    REQUIRE(r);
    CHECK(r->code == 451);
    CHECK(r->enhanced == "4.7.1");
    CHECK(r->summary().find("greylisted, try again in 300 seconds") != std::string::npos);
    REQUIRE(f.saved.size() == 1);
    CHECK(f.saved[0].row.client_net == "192.0.2.0/24");
    CHECK(f.saved[0].row.passed_at == 0);
    CHECK_FALSE(f.saved[0].erase);
}

TEST_CASE("a retry before the delay is refused with the rest of the delay") {
    fixture f;
    f.check();
    f.now += 100;
    auto r = f.check();
    REQUIRE(r);
    CHECK(r->summary().find("try again in 200 seconds") != std::string::npos);
}

TEST_CASE("a retry after the delay passes, and the triplet keeps passing") {
    fixture f;
    f.check();
    f.now += 300;
    CHECK_FALSE(f.check());
    CHECK(f.saved.back().row.passed_at == f.now);
    f.now += 86400;
    CHECK_FALSE(f.check());
}

TEST_CASE("a first retry after the retry window starts over") {
    fixture f;
    f.check();
    f.now += 3601;
    auto r = f.check();
    REQUIRE(r);
    CHECK(r->summary().find("300 seconds") != std::string::npos);
}

TEST_CASE("the client's /24 (IPv4) or /64 (IPv6) is what is remembered") {
    fixture f;
    f.check("192.0.2.10");
    f.now += 300;
    CHECK_FALSE(f.check("192.0.2.200")); // another host of the same /24: same triplet
    CHECK(greylist::client_network("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64");
    CHECK(greylist::client_network("::ffff:198.51.100.7") == "198.51.100.0/24");
    CHECK(greylist::client_network("not an ip").empty());
    fixture g6;
    g6.check("2001:db8:1:2::1");
    g6.now += 300;
    CHECK_FALSE(g6.check("2001:db8:1:2:ffff::9"));
    CHECK(g6.check("2001:db8:1:3::1")); // another /64
}

TEST_CASE("a network that passed is auto-whitelisted for other senders and recipients") {
    fixture f;
    f.check();
    f.now += 300;
    REQUIRE_FALSE(f.check());
    f.now += 10;
    CHECK_FALSE(f.check("192.0.2.99", "other@elsewhere.example", "carol@example.com"));
    // ... but not another network.
    CHECK(f.check("198.51.100.1", "other@elsewhere.example", "carol@example.com"));
}

TEST_CASE("the auto-whitelist and passed triplets expire after expiry_days unseen") {
    fixture f;
    f.check();
    f.now += 300;
    REQUIRE_FALSE(f.check());
    f.now += 36LL * 86400;
    CHECK(f.check()); // stale: greylisted again
    CHECK(f.check("192.0.2.5", "x@y.example", "carol@example.com"));
}

TEST_CASE("expire() drops stale triplets and persists the erasures") {
    fixture f;
    f.check("192.0.2.1");                       // unpassed: stale after the retry window
    f.check("198.51.100.1");
    f.now += 300;
    REQUIRE_FALSE(f.check("198.51.100.1"));     // passed: kept for 35 days
    f.now += 3601;
    f.saved.clear();
    CHECK(f.g.expire() == 1);
    CHECK(f.g.size() == 1);
    REQUIRE(f.saved.size() == 1);
    CHECK(f.saved[0].erase);
    CHECK(f.saved[0].row.client_net == "192.0.2.0/24");
    f.now += 36LL * 86400;
    CHECK(f.g.expire() == 1);
    CHECK(f.g.size() == 0);
}

TEST_CASE("domains without greylisting, and disabled ones, are never greylisted") {
    fixture f;
    CHECK_FALSE(f.check("192.0.2.10", "a@remote.example", "bob@other.example"));
    auto cfg = std::make_shared<config::greylist_config>();
    config::greylist_domain_row d;
    d.domain = "example.com";
    d.enabled = false;
    cfg->domains.emplace(d.domain, d);
    f.g.set_config(cfg);
    CHECK_FALSE(f.check());
    CHECK(f.saved.empty());
}

TEST_CASE("the static whitelist: client networks and sender domains with their subdomains") {
    fixture f;
    auto cfg = std::make_shared<config::greylist_config>();
    config::greylist_domain_row d;
    d.domain = "example.com";
    cfg->domains.emplace(d.domain, d);
    cfg->networks.push_back(config::parse_cidr("203.0.113.0/24").value);
    cfg->sender_domains.insert("trusted.example");
    f.g.set_config(cfg);
    CHECK_FALSE(f.check("203.0.113.9"));
    CHECK_FALSE(f.check("192.0.2.10", "x@trusted.example"));
    CHECK_FALSE(f.check("192.0.2.10", "x@mail.trusted.example"));
    CHECK(f.check("192.0.2.10", "x@nottrusted.example")); // no suffix match without a dot
    CHECK(f.check("192.0.2.10", "x@trusted.example.evil"));
}

TEST_CASE("the null sender and case differences make one triplet each") {
    fixture f;
    CHECK(f.check("192.0.2.10", "", "bob@example.com"));
    f.now += 300;
    CHECK_FALSE(f.check("192.0.2.10", "", "BOB@Example.COM"));
}

TEST_CASE("load() restores saved rows; a full table fails open without growing") {
    fixture f;
    f.g.load({{"192.0.2.0/24", "a@remote.example", "bob@example.com", f.now - 400, f.now - 400, 0}});
    CHECK_FALSE(f.check()); // waited long enough before the restart
    fixture small;
    greylist tiny([&] { return small.now; }, nullptr, 1);
    auto cfg = std::make_shared<config::greylist_config>();
    config::greylist_domain_row d;
    d.domain = "example.com";
    cfg->domains.emplace(d.domain, d);
    tiny.set_config(cfg);
    CHECK(tiny.check("192.0.2.1", "a@x.example", "bob@example.com"));
    CHECK(tiny.full());
    CHECK_FALSE(tiny.check("198.51.100.1", "a@x.example", "bob@example.com"));
    CHECK(tiny.size() == 1);
}
