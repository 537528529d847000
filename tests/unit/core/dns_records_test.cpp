// tests/unit/core/dns_records_test.cpp — DNS record generation against expectations written by
// hand from the RFCs (never regenerated from the code under test).
#include "core/config_db.hpp"
#include "core/dns_records.hpp"
#include "core/sending_store.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace cartero;
using dns::dns_record;
using dns::host_ip;

namespace {

dns::zone_inputs sample() {
    dns::zone_inputs in;
    in.domain = "acme.example";
    in.local_domains = {"acme.example", "shop.example"};
    in.ips = {
        {"192.0.2.10", 4, "mx1.acme.example", true, 10},
        {"2001:db8::10", 6, "mx1.acme.example", true, 10},
        {"192.0.2.11", 4, "mx2.acme.example", false, 20},
        {"192.0.2.20", 4, "out1.acme.example", true, std::nullopt},
    };
    in.dkim = {{"s1", "rsa-sha256", "MIIBpubkey"}, {"e1", "ed25519-sha256", "edpub="}};
    in.dmarc_policy = "reject";
    in.dmarc_rua = "dmarc@acme.example";
    in.tlsrpt_rua = "tls@acme.example";
    return in;
}

std::vector<dns_record> find(const std::vector<dns_record>& rs, const std::string& name,
                             const std::string& type) {
    std::vector<dns_record> out;
    std::copy_if(rs.begin(), rs.end(), std::back_inserter(out),
                 [&](const dns_record& r) { return r.name == name && r.type == type; });
    return out;
}

std::vector<std::string> values(const std::vector<dns_record>& rs) {
    std::vector<std::string> out;
    for (const auto& r : rs) out.push_back(r.value);
    return out;
}

} // namespace

TEST_CASE("SPF lists exactly the outbound addresses, v4 and v6, then the relayhost", "[dns_records]") {
    std::vector<host_ip> ips = {
        {"192.0.2.10", 4, "mx1.acme.example", true, 10},
        {"2001:db8::10", 6, "mx1.acme.example", true, 10},
        {"192.0.2.11", 4, "mx2.acme.example", false, 20}, // receives only: not in SPF
        {"198.51.100.7", 4, "out.acme.example", true, std::nullopt},
    };
    CHECK(dns::spf_value(ips, "") ==
          "v=spf1 ip4:192.0.2.10 ip6:2001:db8::10 ip4:198.51.100.7 -all");
    CHECK(dns::spf_value(ips, "relay.provider.example") ==
          "v=spf1 ip4:192.0.2.10 ip6:2001:db8::10 ip4:198.51.100.7 a:relay.provider.example -all");
    CHECK(dns::spf_value(ips, "203.0.113.5") ==
          "v=spf1 ip4:192.0.2.10 ip6:2001:db8::10 ip4:198.51.100.7 ip4:203.0.113.5 -all");
    CHECK(dns::spf_value(ips, "2001:db8:ffff::1") ==
          "v=spf1 ip4:192.0.2.10 ip6:2001:db8::10 ip4:198.51.100.7 ip6:2001:db8:ffff::1 -all");
    CHECK(dns::spf_value({}, "") == "v=spf1 -all");
}

TEST_CASE("TXT values split into strings of at most 255 octets", "[dns_records]") {
    CHECK(dns::split_txt("") == std::vector<std::string>{""});
    CHECK(dns::split_txt("v=spf1 -all") == std::vector<std::string>{"v=spf1 -all"});
    std::string a255(255, 'a'), b(1, 'b'), c300(300, 'c');
    CHECK(dns::split_txt(a255) == std::vector<std::string>{a255});
    CHECK(dns::split_txt(a255 + b) == std::vector<std::string>{a255, b});
    CHECK(dns::split_txt(a255 + a255 + c300) ==
          std::vector<std::string>{a255, a255, std::string(255, 'c'), std::string(45, 'c')});

    // In the zone file: quoted strings side by side on one line.
    dns_record r{"sel._domainkey.acme.example", "TXT", 3600, a255 + "xyz", true, "DKIM"};
    CHECK(dns::render_zone_line("acme.example", r) ==
          "sel._domainkey           3600 IN TXT   \"" + a255 + "\" \"xyz\"");
    dns_record q{"acme.example", "TXT", 300, "say \"hi\" \\ bye", true, "x"};
    CHECK(dns::render_zone_line("acme.example", q) ==
          "@                        300 IN TXT   \"say \\\"hi\\\" \\\\ bye\"");
}

TEST_CASE("DMARC value: policy, rua as mailto, relaxed alignment", "[dns_records]") {
    CHECK(dns::dmarc_value("quarantine", "dmarc@acme.example") ==
          "v=DMARC1; p=quarantine; rua=mailto:dmarc@acme.example; adkim=r; aspf=r");
    CHECK(dns::dmarc_value("none", "") == "v=DMARC1; p=none; adkim=r; aspf=r");
}

TEST_CASE("MTA-STS policy text and a stable id that follows the policy", "[dns_records]") {
    std::string p = dns::mta_sts_policy("testing", {"mx1.acme.example", "mx2.acme.example"});
    CHECK(p == "version: STSv1\r\nmode: testing\r\nmx: mx1.acme.example\r\n"
               "mx: mx2.acme.example\r\nmax_age: 86400\r\n");
    std::string id = dns::mta_sts_id(p);
    // sha256 of the text above, first 16 octets (computed independently with sha256sum).
    CHECK(id.size() == 32);
    CHECK(id == dns::mta_sts_id(p));
    CHECK(id != dns::mta_sts_id(dns::mta_sts_policy("testing", {"mx1.acme.example"})));
    CHECK(id != dns::mta_sts_id(dns::mta_sts_policy("enforce", {"mx1.acme.example", "mx2.acme.example"})));
    CHECK(dns::mta_sts_id("abc") == "ba7816bf8f01cfea414140de5dae2223");
    CHECK(std::all_of(id.begin(), id.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); }));
}

TEST_CASE("generated zone: MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT, SRV, hosts", "[dns_records]") {
    auto rs = dns::generate_records(sample());
    CHECK(values(find(rs, "acme.example", "MX")) ==
          std::vector<std::string>{"10 mx1.acme.example.", "20 mx2.acme.example."});
    CHECK(values(find(rs, "acme.example", "TXT")) ==
          std::vector<std::string>{"v=spf1 ip4:192.0.2.10 ip6:2001:db8::10 ip4:192.0.2.20 -all"});
    CHECK(values(find(rs, "s1._domainkey.acme.example", "TXT")) ==
          std::vector<std::string>{"v=DKIM1; k=rsa; p=MIIBpubkey"});
    CHECK(values(find(rs, "e1._domainkey.acme.example", "TXT")) ==
          std::vector<std::string>{"v=DKIM1; k=ed25519; p=edpub="});
    CHECK(values(find(rs, "_dmarc.acme.example", "TXT")) ==
          std::vector<std::string>{"v=DMARC1; p=reject; rua=mailto:dmarc@acme.example; adkim=r; aspf=r"});
    std::string policy = "version: STSv1\r\nmode: testing\r\nmx: mx1.acme.example\r\n"
                         "mx: mx2.acme.example\r\nmax_age: 86400\r\n";
    CHECK(dns::mta_sts_policy_for(sample()) == policy);
    CHECK(values(find(rs, "_mta-sts.acme.example", "TXT")) ==
          std::vector<std::string>{"v=STSv1; id=" + dns::mta_sts_id(policy)});
    CHECK(values(find(rs, "_smtp._tls.acme.example", "TXT")) ==
          std::vector<std::string>{"v=TLSRPTv1; rua=mailto:tls@acme.example"});
    // RFC 6186: priority 0, weight 1, port, the first MX host.
    CHECK(values(find(rs, "_submission._tcp.acme.example", "SRV")) ==
          std::vector<std::string>{"0 1 587 mx1.acme.example."});
    CHECK(values(find(rs, "_imaps._tcp.acme.example", "SRV")) ==
          std::vector<std::string>{"0 1 993 mx1.acme.example."});
    CHECK(values(find(rs, "_pop3s._tcp.acme.example", "SRV")) ==
          std::vector<std::string>{"0 1 995 mx1.acme.example."});
    CHECK(values(find(rs, "_submissions._tcp.acme.example", "SRV")) ==
          std::vector<std::string>{"0 1 465 mx1.acme.example."});

    CHECK(values(find(rs, "mx1.acme.example", "A")) == std::vector<std::string>{"192.0.2.10"});
    CHECK(values(find(rs, "mx1.acme.example", "AAAA")) == std::vector<std::string>{"2001:db8::10"});
    // HELO names (RFC 7208 §2.3): each may send from its own addresses only.
    CHECK(values(find(rs, "mx1.acme.example", "TXT")) ==
          std::vector<std::string>{"v=spf1 ip4:192.0.2.10 ip6:2001:db8::10 -all"});
    CHECK(values(find(rs, "out1.acme.example", "TXT")) ==
          std::vector<std::string>{"v=spf1 ip4:192.0.2.20 -all"});
    // Null MX (RFC 7505) only for the host that takes no mail.
    CHECK(values(find(rs, "out1.acme.example", "MX")) == std::vector<std::string>{"0 ."});
    CHECK(find(rs, "mx1.acme.example", "MX").empty());
    CHECK(find(rs, "mx2.acme.example", "MX").empty());
}

TEST_CASE("a second domain points at the same MX but holds no host records", "[dns_records]") {
    auto in = sample();
    in.domain = "shop.example";
    auto rs = dns::generate_records(in);
    CHECK(values(find(rs, "shop.example", "MX")) ==
          std::vector<std::string>{"10 mx1.acme.example.", "20 mx2.acme.example."});
    CHECK(find(rs, "mx1.acme.example", "A").empty());
    for (const auto& r : rs) CHECK((r.name == "shop.example" || r.name.ends_with(".shop.example")));
}

TEST_CASE("a domain without MX hosts gets a null MX and no MTA-STS or SRV", "[dns_records]") {
    auto in = sample();
    for (auto& ip : in.ips) ip.mx_preference.reset();
    auto rs = dns::generate_records(in);
    CHECK(values(find(rs, "acme.example", "MX")) == std::vector<std::string>{"0 ."});
    CHECK(find(rs, "_mta-sts.acme.example", "TXT").empty());
    CHECK(find(rs, "_imaps._tcp.acme.example", "SRV").empty());
}

TEST_CASE("zone rendering: origin, TTL, relative names, no SOA/NS", "[dns_records]") {
    std::vector<dns_record> rs = {
        {"acme.example", "MX", 3600, "10 mx1.acme.example.", true, "MX"},
        {"mx1.acme.example", "A", 3600, "192.0.2.10", true, "host"},
        {"elsewhere.example", "CNAME", 600, "acme.example.", false, "odd"},
    };
    std::string z = dns::render_zone("acme.example", rs);
    CHECK(z.find("$ORIGIN acme.example.\n$TTL 3600\n") != std::string::npos);
    CHECK(z.find("\n@                        3600 IN MX    10 mx1.acme.example.\n") != std::string::npos);
    CHECK(z.find("\nmx1                      3600 IN A     192.0.2.10\n") != std::string::npos);
    CHECK(z.find("\nelsewhere.example.       600 IN CNAME acme.example.\n") != std::string::npos);
    CHECK(z.find(" IN SOA") == std::string::npos);
    CHECK(z.find(" IN NS") == std::string::npos);
}

TEST_CASE("JSON and CSV carry the same records", "[dns_records]") {
    std::vector<dns_record> rs = {
        {"acme.example", "TXT", 3600, "v=spf1 ip4:192.0.2.10 -all", true, "SPF, the \"list\""},
        {"_imaps._tcp.acme.example", "SRV", 3600, "0 1 993 mx1.acme.example.", false, "IMAP"},
    };
    CHECK(dns::render_csv(rs) ==
          "name,type,ttl,value,required,purpose\r\n"
          "acme.example,TXT,3600,v=spf1 ip4:192.0.2.10 -all,yes,\"SPF, the \"\"list\"\"\"\r\n"
          "_imaps._tcp.acme.example,SRV,3600,0 1 993 mx1.acme.example.,no,IMAP\r\n");
    std::string j = dns::render_json(rs);
    CHECK(j.find("\"name\": \"acme.example\"") != std::string::npos);
    CHECK(j.find("\"strings\": [\n      \"v=spf1 ip4:192.0.2.10 -all\"\n    ]") != std::string::npos);
    CHECK(j.find("\"value\": \"0 1 993 mx1.acme.example.\"") != std::string::npos);
    CHECK(j.find("\"required\": false") != std::string::npos);
}

TEST_CASE("PTR records and the operator's request text", "[dns_records]") {
    std::vector<host_ip> ips = {{"192.0.2.10", 4, "mx1.acme.example", true, 10},
                                {"2001:db8::1", 6, "mx1.acme.example", true, 10}};
    auto ptr = dns::ptr_records(ips);
    REQUIRE(ptr.size() == 2);
    CHECK(ptr[0].name == "10.2.0.192.in-addr.arpa");
    CHECK(ptr[0].value == "mx1.acme.example.");
    CHECK(ptr[1].name == "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
    std::string t = dns::render_ptr_requests(ips, "acme");
    CHECK(t.find("Please set the reverse DNS (PTR) of 192.0.2.10 to mx1.acme.example.\n") !=
          std::string::npos);
    CHECK(t.find("10.2.0.192.in-addr.arpa. PTR mx1.acme.example.") != std::string::npos);
}

TEST_CASE("expected_records reads IPs, relayhost, DKIM keys and settings from config.db", "[dns_records]") {
    cartero::test::temp_dir tmp;
    config::config_db db(tmp.path("config.db"), true);
    db.add_domain("acme.example");
    config::add_pool(db, "default");
    config::add_ip(db, {"192.0.2.10", 4, "mx1.acme.example", "default", 10});
    config::add_ip(db, {"2001:DB8:0::10", 6, "mx1.acme.example", "default", 10});
    config::set_relayhost(db, {"relay.provider.example", 587});
    db.set_setting("dmarc_policy", "quarantine");
    db.set_setting("postmaster", "pm@acme.example");
    auto rs = dns::expected_records(db, "ACME.example");
    CHECK(values(find(rs, "acme.example", "TXT")) ==
          std::vector<std::string>{"v=spf1 ip4:192.0.2.10 ip6:2001:db8::10 a:relay.provider.example -all"});
    CHECK(values(find(rs, "_dmarc.acme.example", "TXT")) ==
          std::vector<std::string>{"v=DMARC1; p=quarantine; rua=mailto:pm@acme.example; adkim=r; aspf=r"});
    CHECK(values(find(rs, "_smtp._tls.acme.example", "TXT")) ==
          std::vector<std::string>{"v=TLSRPTv1; rua=mailto:pm@acme.example"});
    CHECK_THROWS_AS(dns::expected_records(db, "other.example"), config::config_error);
}
