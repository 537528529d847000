// tests/unit/policy/test_network_list.cpp — trusted_network membership of peer addresses.
#include "daemon/policy/network_list.hpp"

#include <catch2/catch.hpp>

using cartero::policy::network_list;

namespace {
network_list nets(std::initializer_list<const char*> texts) {
    std::vector<cartero::config::cidr> v;
    for (auto t : texts) {
        auto c = cartero::config::parse_cidr(t);
        REQUIRE(c.ok);
        v.push_back(c.value);
    }
    return network_list(std::move(v));
}
} // namespace

TEST_CASE("IPv4 networks match their members only") {
    auto n = nets({"127.0.0.0/8", "192.0.2.16/28"});
    CHECK(n.contains("127.0.0.1"));
    CHECK(n.contains("127.255.255.255"));
    CHECK_FALSE(n.contains("128.0.0.1"));
    CHECK(n.contains("192.0.2.31"));
    CHECK_FALSE(n.contains("192.0.2.32"));
    CHECK_FALSE(n.contains("192.0.2.15"));
    CHECK_FALSE(n.contains("not-an-ip"));
    CHECK_FALSE(n.contains(""));
}

TEST_CASE("IPv6 networks, single addresses and v4-mapped peers") {
    auto n = nets({"2001:db8::/32", "::1"});
    CHECK(n.contains("2001:db8:ffff::1"));
    CHECK_FALSE(n.contains("2001:db9::1"));
    CHECK(n.contains("::1"));
    CHECK_FALSE(n.contains("::2"));
    auto v4 = nets({"10.0.0.0/8"});
    CHECK(v4.contains("::ffff:10.1.2.3")); // dual-stack sockets report IPv4 peers this way
    CHECK_FALSE(v4.contains("2001:db8::1"));
    CHECK(network_list().empty());
    CHECK_FALSE(network_list().contains("127.0.0.1"));
}
