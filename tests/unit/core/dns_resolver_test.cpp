// tests/unit/core/dns_resolver_test.cpp — dns::resolver (libunbound) against Knot on loopback.
#include "core/dns/resolver.hpp"
#include "tests/support/knot_server.hpp"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <thread>

using namespace cartero::dns;
using cartero::test::knot_server;
using namespace std::chrono_literals;

namespace {

const std::string long_a(255, 'a'), long_b(255, 'b');
const std::string dkim_key = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

// Zones written by hand: the expected answers in the tests below are read off these lines.
knot_server::zone_map test_zones() {
    return {
        {"example.com",
         "www A 192.0.2.1\n"
         "www AAAA 2001:db8::1\n"
         "alias CNAME www\n"
         "@ MX 10 mx1\n"
         "@ MX 20 mx2a\n"
         "@ MX 20 mx2b\n"
         "@ MX 20 mx2c\n"
         "@ MX 30 mx3.example.net.\n"
         "mx1 A 192.0.2.10\n"
         "@ TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n"
         "multi TXT \"first\"\n"
         "multi TXT \"second\"\n"
         "long TXT \"" + long_a + "\" \"" + long_b + "\" \"ccc\"\n"
         "_dmarc TXT \"v=DMARC1; p=reject\"\n"
         "sel._domainkey TXT \"v=DKIM1; k=ed25519; p=\" \"" + dkim_key + "\"\n"
         "_submission._tcp SRV 0 1 587 mail\n"
         "_25._tcp.mx1 TLSA 3 1 1 0123456789ABCDEF0123456789ABCDEF"
         "0123456789ABCDEF0123456789ABCDEF\n"
         "noaddr TXT \"names without addresses\"\n"
         "xn--bcher-kva A 192.0.2.7\n"},
        {"null.example.org", "@ MX 0 .\n@ A 192.0.2.50\n"},
        {"2.0.192.in-addr.arpa", "1 PTR www.example.com.\n"},
        {"8.b.d.0.1.0.0.2.ip6.arpa",
         "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 PTR www.example.com.\n"},
    };
}

// One server for the read-only tests; started on first use, stopped at exit.
knot_server* shared_dns() {
    static std::unique_ptr<knot_server> s;
    if (!s && knot_server::available()) s = std::make_unique<knot_server>(test_zones());
    return s.get();
}

std::unique_ptr<resolver> resolver_for(const knot_server& k,
                                       std::chrono::milliseconds timeout = 3000ms) {
    resolver_settings rs;
    rs.forward_to = k.address();
    rs.timeout = timeout;
    return make_resolver(rs);
}

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

// A UDP+TCP port on 127.0.0.1 with nothing listening (free at the time of asking).
std::uint16_t dead_port() {
    int u = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(u, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::getsockname(u, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(u);
    return ntohs(a.sin_port);
}

#define NEED_KNOT()                                                                              \
    knot_server* dns = shared_dns();                                                             \
    if (!dns) {                                                                                  \
        WARN("knotd not installed: DNS resolver tests skipped");                                 \
        return;                                                                                  \
    }

} // namespace

TEST_CASE("A, AAAA and CNAME from a real server", "[dns]") {
    NEED_KNOT();
    auto r = resolver_for(*dns);
    auto a = r->lookup("www.example.com", rr_type::a);
    REQUIRE(a.st == status::ok);
    CHECK(a.records == std::vector<std::string>{"192.0.2.1"});
    CHECK_FALSE(a.secure);
    CHECK(a.why.empty());

    auto aaaa = r->lookup("www.example.com.", rr_type::aaaa); // trailing dot allowed
    REQUIRE(aaaa.ok());
    CHECK(aaaa.records == std::vector<std::string>{"2001:db8::1"});

    auto via = r->lookup("alias.example.com", rr_type::a); // the CNAME is followed
    REQUIRE(via.ok());
    CHECK(via.records == std::vector<std::string>{"192.0.2.1"});
    auto cname = r->lookup("alias.example.com", rr_type::cname);
    REQUIRE(cname.ok());
    CHECK(cname.records == std::vector<std::string>{"www.example.com."});

    auto upper = r->lookup("WWW.Example.COM", rr_type::a);
    REQUIRE(upper.ok());
    CHECK(upper.records == std::vector<std::string>{"192.0.2.1"});
}

TEST_CASE("Unicode names are looked up as A-labels", "[dns]") {
    NEED_KNOT();
    auto r = resolver_for(*dns);
    auto a = r->lookup("Bücher.example.com", rr_type::a);
    REQUIRE(a.ok());
    CHECK(a.records == std::vector<std::string>{"192.0.2.7"});
}

TEST_CASE("MX: preference order, equal preferences shuffled, all present", "[dns]") {
    NEED_KNOT();
    auto r = resolver_for(*dns);
    auto a = r->lookup("example.com", rr_type::mx);
    REQUIRE(a.ok());
    CHECK(sorted(a.records) ==
          std::vector<std::string>{"10 mx1.example.com.", "20 mx2a.example.com.",
                                   "20 mx2b.example.com.", "20 mx2c.example.com.",
                                   "30 mx3.example.net."});
    std::set<std::string> firsts_of_20;
    for (int i = 0; i < 60; ++i) {
        auto mx = parse_mx(a);
        REQUIRE(mx.size() == 5);
        CHECK(mx[0].preference == 10);
        CHECK(mx[0].host == "mx1.example.com");
        std::set<std::string> middle;
        for (int k = 1; k <= 3; ++k) {
            CHECK(mx[static_cast<std::size_t>(k)].preference == 20);
            middle.insert(mx[static_cast<std::size_t>(k)].host);
        }
        CHECK(middle == std::set<std::string>{"mx2a.example.com", "mx2b.example.com",
                                              "mx2c.example.com"});
        CHECK(mx[4].host == "mx3.example.net");
        firsts_of_20.insert(mx[1].host);
    }
    // RFC 5321 §5.1 randomisation: over 60 draws each of the three comes first at some point
    // (the chance that one never does is about 3 * (2/3)^60, below 1e-10).
    CHECK(firsts_of_20.size() == 3);
    CHECK_FALSE(is_null_mx(parse_mx(a)));
}

TEST_CASE("null MX (RFC 7505)", "[dns]") {
    NEED_KNOT();
    auto r = resolver_for(*dns);
    auto a = r->lookup("null.example.org", rr_type::mx);
    REQUIRE(a.ok());
    CHECK(a.records == std::vector<std::string>{"0 ."});
    auto mx = parse_mx(a);
    REQUIRE(mx.size() == 1);
    CHECK(mx[0].host.empty());
    CHECK(is_null_mx(mx));
}

TEST_CASE("TXT: character-strings joined, one entry per RR, service names", "[dns]") {
    NEED_KNOT();
    auto r = resolver_for(*dns);
    auto lng = r->lookup("long.example.com", rr_type::txt); // 513 octets: needs TCP or EDNS
    REQUIRE(lng.ok());
    CHECK(lng.records == std::vector<std::string>{long_a + long_b + "ccc"});

    auto multi = r->lookup("multi.example.com", rr_type::txt);
    REQUIRE(multi.ok());
    CHECK(sorted(multi.records) == std::vector<std::string>{"first", "second"});

    auto spf = r->lookup("example.com", rr_type::txt);
    REQUIRE(spf.ok());
    CHECK(spf.records == std::vector<std::string>{"v=spf1 ip4:192.0.2.0/24 -all"});

    auto dmarc = r->lookup("_dmarc.example.com", rr_type::txt);
    REQUIRE(dmarc.ok());
    CHECK(dmarc.records == std::vector<std::string>{"v=DMARC1; p=reject"});

    auto dkim = r->lookup("sel._domainkey.example.com", rr_type::txt);
    REQUIRE(dkim.ok());
    CHECK(dkim.records ==
          std::vector<std::string>{"v=DKIM1; k=ed25519; p=" + dkim_key});

    auto uni = r->lookup("_dmarc.Bücher.example.com", rr_type::txt); // converted, then asked
    CHECK(uni.st == status::nxdomain);
}

TEST_CASE("PTR for IPv4 and IPv6", "[dns]") {
    NEED_KNOT();
    auto r = resolver_for(*dns);
    auto v4 = r->lookup(reverse_name("192.0.2.1"), rr_type::ptr);
    REQUIRE(v4.ok());
    CHECK(v4.records == std::vector<std::string>{"www.example.com."});
    auto v6 = r->lookup(reverse_name("2001:db8::1"), rr_type::ptr);
    REQUIRE(v6.ok());
    CHECK(v6.records == std::vector<std::string>{"www.example.com."});
    auto none = r->lookup(reverse_name("192.0.2.99"), rr_type::ptr);
    CHECK(none.st == status::nxdomain);
}

TEST_CASE("SRV and TLSA", "[dns]") {
    NEED_KNOT();
    auto r = resolver_for(*dns);
    auto srv = r->lookup("_submission._tcp.example.com", rr_type::srv);
    REQUIRE(srv.ok());
    CHECK(srv.records == std::vector<std::string>{"0 1 587 mail.example.com."});
    auto tlsa = r->lookup("_25._tcp.mx1.example.com", rr_type::tlsa);
    REQUIRE(tlsa.ok());
    CHECK(tlsa.records ==
          std::vector<std::string>{
              "3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"});
    auto ns = r->lookup("example.com", rr_type::ns);
    REQUIRE(ns.ok());
    CHECK(ns.records == std::vector<std::string>{"localhost."});
}

TEST_CASE("NXDOMAIN, NODATA and a zone nobody serves", "[dns]") {
    NEED_KNOT();
    auto r = resolver_for(*dns);
    auto nx = r->lookup("nope.example.com", rr_type::a);
    CHECK(nx.st == status::nxdomain);
    CHECK(nx.records.empty());
    CHECK(nx.why.find("nope.example.com") != std::string::npos);

    auto nodata = r->lookup("noaddr.example.com", rr_type::a);
    CHECK(nodata.st == status::nodata);
    CHECK(nodata.records.empty());
    CHECK(nodata.why.find("no A records") != std::string::npos);

    // Knot refuses zones it does not serve; through unbound that is a server failure.
    auto other = r->lookup("www.example.invalid-tld-for-tests", rr_type::a);
    CHECK((other.st == status::servfail || other.st == status::error));
    CHECK_FALSE(other.why.empty());
}

TEST_CASE("a changed and reloaded zone is seen", "[dns]") {
    if (!knot_server::available()) {
        WARN("knotd not installed: DNS resolver tests skipped");
        return;
    }
    knot_server k(knot_server::zone_map{{"reload.example", "www A 192.0.2.1\n"}});
    auto r = resolver_for(k);
    REQUIRE(r->lookup("www.reload.example", rr_type::a).records ==
            std::vector<std::string>{"192.0.2.1"});

    k.set_zone("reload.example", "www A 192.0.2.2\nnew TXT \"added\"\n");
    // A fresh resolver has an empty cache.
    auto fresh = resolver_for(k);
    CHECK(fresh->lookup("www.reload.example", rr_type::a).records ==
          std::vector<std::string>{"192.0.2.2"});
    CHECK(fresh->lookup("new.reload.example", rr_type::txt).records ==
          std::vector<std::string>{"added"});
    // The first one sees it once the 1 s TTL has run out: unbound keeps time in whole seconds
    // and expires an entry when now > fetched + TTL, so that takes up to 2 s.
    std::this_thread::sleep_for(2200ms);
    CHECK(r->lookup("www.reload.example", rr_type::a).records ==
          std::vector<std::string>{"192.0.2.2"});

    k.set_zone("added.example", "@ MX 10 mx.added.example.\n"); // a zone added at run time
    CHECK(fresh->lookup("added.example", rr_type::mx).records ==
          std::vector<std::string>{"10 mx.added.example."});
}

TEST_CASE("timeout against a port with nothing listening", "[dns]") {
    resolver_settings rs;
    rs.forward_to = "127.0.0.1:" + std::to_string(dead_port());
    rs.timeout = 500ms;
    auto r = make_resolver(rs);
    auto t0 = std::chrono::steady_clock::now();
    auto a = r->lookup("www.example.com", rr_type::a);
    auto took = std::chrono::steady_clock::now() - t0;
    CHECK(a.st == status::timeout);
    CHECK(a.why.find("500 ms") != std::string::npos);
    CHECK(took < 3s);
    CHECK(took >= 400ms);
}

TEST_CASE("timeout against a server that never answers", "[dns]") {
    // A bound UDP socket that nobody reads: no ICMP error, just silence.
    int u = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    REQUIRE(::bind(u, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    ::getsockname(u, reinterpret_cast<sockaddr*>(&sa), &len);
    resolver_settings rs;
    rs.forward_to = "127.0.0.1:" + std::to_string(ntohs(sa.sin_port));
    rs.timeout = 500ms;
    auto r = make_resolver(rs);
    auto t0 = std::chrono::steady_clock::now();
    auto a = r->lookup("www.example.com", rr_type::mx);
    CHECK(a.st == status::timeout);
    CHECK(std::chrono::steady_clock::now() - t0 < 3s);
    ::close(u);
}

TEST_CASE("hostile names are error answers, never exceptions", "[dns]") {
    resolver_settings rs;
    rs.forward_to = "127.0.0.1:" + std::to_string(dead_port());
    rs.timeout = 500ms;
    auto r = make_resolver(rs);
    const std::string label64(64, 'a');
    const std::vector<std::string> bad = {
        "",
        std::string(300, 'a'),
        label64 + ".example.com",
        "a..example.com",
        ".example.com",
        "www.example.com..",
        std::string("www\0evil.example.com", 20),
        "www\r\n.example.com",
        "www\x7f.example.com",
        "www example.com",
        "www.exa\"mple.com",
        "\xff\xfe.example.com",
        "bücher\x01.example.com",
        "_x.\xc3\x28.example.com",
        std::string(120, 'a') + "." + std::string(120, 'b') + "." + std::string(20, 'c'),
    };
    for (const auto& name : bad) {
        INFO("name of " << name.size() << " octets");
        answer a;
        REQUIRE_NOTHROW(a = r->lookup(name, rr_type::a));
        CHECK(a.st == status::error);
        CHECK_FALSE(a.why.empty());
        CHECK(a.why.find('\n') == std::string::npos);
        CHECK(a.why.find('\r') == std::string::npos);
        CHECK(a.records.empty());
    }
}

TEST_CASE("async_lookup from several threads at once", "[dns]") {
    NEED_KNOT();
    auto r = resolver_for(*dns);
    constexpr int threads = 4, per_thread = 25;
    std::mutex m;
    std::condition_variable cv;
    int finished = 0, good = 0;
    std::set<std::thread::id> callback_threads;
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t)
        ts.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                bool want_mx = (i + t) % 2 == 0;
                r->async_lookup(want_mx ? "example.com" : "www.example.com",
                                want_mx ? rr_type::mx : rr_type::a, [&, want_mx](answer a) {
                                    std::lock_guard lock(m);
                                    callback_threads.insert(std::this_thread::get_id());
                                    if (a.ok() && a.records.size() == (want_mx ? 5u : 1u)) ++good;
                                    ++finished;
                                    cv.notify_all();
                                });
            }
        });
    for (auto& t : ts) t.join();
    std::unique_lock lock(m);
    REQUIRE(cv.wait_for(lock, 10s, [&] { return finished == threads * per_thread; }));
    CHECK(good == threads * per_thread);
    CHECK(callback_threads.size() == 1); // all on the resolver's own thread
    CHECK(callback_threads.count(std::this_thread::get_id()) == 0);
}

TEST_CASE("async_lookup from inside a callback; lookup there is refused", "[dns]") {
    NEED_KNOT();
    auto r = resolver_for(*dns);
    std::promise<std::pair<answer, answer>> p;
    r->async_lookup("www.example.com", rr_type::a, [&](answer) {
        answer inner = r->lookup("www.example.com", rr_type::a); // would deadlock: refused
        r->async_lookup("www.example.com", rr_type::aaaa,
                        [&, inner](answer second) { p.set_value({inner, second}); });
    });
    auto f = p.get_future();
    REQUIRE(f.wait_for(10s) == std::future_status::ready);
    auto [inner, second] = f.get();
    CHECK(inner.st == status::error);
    CHECK(inner.why.find("async_lookup") != std::string::npos);
    REQUIRE(second.ok());
    CHECK(second.records == std::vector<std::string>{"2001:db8::1"});
}

TEST_CASE("destroying the resolver finishes pending lookups with 'resolver stopped'", "[dns]") {
    int u = ::socket(AF_INET, SOCK_DGRAM, 0); // silent server: the lookups stay pending
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    REQUIRE(::bind(u, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    ::getsockname(u, reinterpret_cast<sockaddr*>(&sa), &len);
    resolver_settings rs;
    rs.forward_to = "127.0.0.1:" + std::to_string(ntohs(sa.sin_port));
    rs.timeout = 30s;
    auto r = make_resolver(rs);
    std::mutex m;
    std::vector<answer> got;
    for (int i = 0; i < 5; ++i)
        r->async_lookup("host" + std::to_string(i) + ".example.com", rr_type::a, [&](answer a) {
            std::lock_guard lock(m);
            got.push_back(std::move(a));
        });
    std::this_thread::sleep_for(100ms);
    auto t0 = std::chrono::steady_clock::now();
    r.reset();
    CHECK(std::chrono::steady_clock::now() - t0 < 5s);
    REQUIRE(got.size() == 5);
    for (const auto& a : got) {
        CHECK(a.st == status::error);
        CHECK(a.why == "resolver stopped");
    }
    ::close(u);
}

TEST_CASE("make_resolver refuses bad settings with a clear message", "[dns]") {
    for (std::string bad : {"127.0.0.1", "localhost:53", "::1:53", "[::1]", "127.0.0.1:0",
                            "127.0.0.1:70000", "300.1.1.1:53", "[::1]:x"}) {
        INFO(bad);
        resolver_settings rs;
        rs.forward_to = bad;
        CHECK_THROWS_WITH(make_resolver(rs), Catch::Contains("ADDR:PORT"));
    }
    resolver_settings zero;
    zero.forward_to = "127.0.0.1:53";
    zero.timeout = 0ms;
    CHECK_THROWS_WITH(make_resolver(zero), Catch::Contains("timeout"));
    resolver_settings v6;
    v6.forward_to = "[::1]:53";
    CHECK_NOTHROW(make_resolver(v6));
    resolver_settings system; // /etc/resolv.conf, or recursion when it has no nameserver
    CHECK_NOTHROW(make_resolver(system));
    resolver_settings secure;
    secure.dnssec = true;
    CHECK_NOTHROW(make_resolver(secure));
}
