// tests/unit/outbound/test_routes.cpp — transport routes: exact domain, ".parent" subdomain
// routes (nearest parent wins, the parent itself is not matched), nothing else.
#include "daemon/outbound/smtp_transport.hpp"

#include <catch2/catch.hpp>

using namespace cartero::outbound;

TEST_CASE("transport routes match the domain exactly or as a subdomain of a .parent entry") {
    std::map<std::string, next_hop> routes;
    routes["example.com"] = {"exact.hop", 25, false, std::nullopt};
    routes[".example.com"] = {"sub.hop", 25, false, std::nullopt};
    routes[".deep.example.com"] = {"deep.hop", 25, false, std::nullopt};
    routes[".only-subs.example"] = {"only.hop", 25, false, std::nullopt};
    auto hop = [&](const std::string& d) {
        const next_hop* h = find_route(routes, d);
        return h ? h->host : std::string("-");
    };
    CHECK(hop("example.com") == "exact.hop");
    CHECK(hop("a.example.com") == "sub.hop");
    CHECK(hop("a.b.example.com") == "sub.hop");
    CHECK(hop("x.deep.example.com") == "deep.hop"); // the nearest parent
    CHECK(hop("deep.example.com") == "sub.hop");    // ".deep.example.com" is for its subdomains
    CHECK(hop("only-subs.example") == "-");         // the parent itself is not matched
    CHECK(hop("a.only-subs.example") == "only.hop");
    CHECK(hop("notexample.com") == "-");             // a suffix that is not a label boundary
    CHECK(hop("example.com.evil.test") == "-");
    CHECK(hop("") == "-");
    CHECK(find_route({}, "a.example.com") == nullptr);
}
