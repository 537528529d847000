// tests/unit/policy/spam_verdict_test.cpp — score items, lists, thresholds, DMARC actions,
// Junk maildirs, the reject text; DNSBL/rDNS through a scripted resolver.
#include "daemon/policy/spam_filter.hpp"

#include <catch2/catch.hpp>
#include <re2/re2.h>

#include <map>
#include <thread>

using namespace cartero;
using namespace cartero::policy;

namespace {

struct scripted_resolver : dns::resolver {
    std::map<std::string, dns::answer> answers; // "name TYPE"
    std::chrono::milliseconds delay{0};
    dns::answer lookup(std::string_view name, dns::rr_type t) override {
        auto it = answers.find(std::string(name) + " " + std::string(dns::to_string(t)));
        if (it != answers.end()) return it->second;
        dns::answer a;
        a.st = dns::status::nxdomain;
        return a;
    }
    void async_lookup(std::string_view name, dns::rr_type t,
                      std::function<void(dns::answer)> done) override {
        auto a = lookup(name, t);
        auto d = delay;
        std::thread([a, d, done = std::move(done)] {
            std::this_thread::sleep_for(d);
            done(a);
        }).detach();
    }
};

dns::answer ok(std::vector<std::string> recs) {
    dns::answer a;
    a.st = dns::status::ok;
    a.records = std::move(recs);
    return a;
}

std::shared_ptr<config::filter_snapshot> filters() {
    auto f = std::make_shared<config::filter_snapshot>();
    return f;
}

void add_rule(config::filter_snapshot& f, std::string name, std::string target, std::string field,
              std::string pattern, double score) {
    config::filter_snapshot::rule r;
    r.row = {name, target, field, pattern, score, "", true};
    r.re = std::make_shared<const re2::RE2>(pattern);
    f.rules.push_back(r);
}

void add_list(config::filter_snapshot& f, std::string list, std::string dir, std::string scope,
              std::string owner, std::string entry) {
    config::filter_snapshot::list_entry e;
    std::string kind = entry[0] == '@'                           ? "domain"
                       : entry.find('@') != std::string::npos ? "address"
                                                                : "network";
    e.row = {list, dir, scope, owner, entry, kind};
    if (kind == "network") e.net = config::parse_cidr(entry).value;
    f.lists.push_back(e);
}

config::snapshot snapshot_with(std::shared_ptr<config::filter_snapshot> f) {
    config::snapshot s;
    s.domains = {"example.org", "other.example"};
    s.filters = std::move(f);
    return s;
}

queue::recipient local(std::string address) {
    queue::recipient r;
    r.rcpt_to = address;
    r.deliver_to = address;
    r.kind = queue::rcpt_kind::local;
    r.maildir = "/mail/" + address;
    return r;
}

spam_request request() {
    spam_request rq;
    rq.client_ip = "192.0.2.7";
    rq.helo = "mail.sender.example";
    rq.mail_from = "someone@sender.example";
    rq.hostname = "mx.example.org";
    return rq;
}

const std::string plain = "From: someone@sender.example\r\nSubject: hello\r\n\r\nhi there\r\n";

bool has(const std::string& items, const std::string& name) {
    return items.find(name + "=") != std::string::npos;
}

} // namespace

TEST_CASE("spam verdict: a clean message is delivered with X-Spam-Flag: NO") {
    auto cfg = snapshot_with(filters());
    auto d = run_spam_filter(cfg, nullptr, plain, request(), {local("user@example.org")});
    CHECK_FALSE(d.rejection);
    REQUIRE(d.groups.size() == 1);
    CHECK(d.groups[0].fields.find("X-Spam-Flag: NO\r\n") == 0);
    CHECK(d.groups[0].fields.find("X-Spam-Score: 0.0\r\n") != std::string::npos);
    CHECK(d.groups[0].rcpts[0].maildir == "/mail/user@example.org");
}

TEST_CASE("spam verdict: header rule matches its field and not another") {
    auto f = filters();
    add_rule(*f, "MONEY", "header", "subject", "(?i)free money", 6);
    auto cfg = snapshot_with(f);
    auto hit = run_spam_filter(cfg, nullptr,
                               "Subject: FREE MONEY\r\n\r\nx\r\n", request(), {local("user@example.org")});
    CHECK(has(hit.items, "RULE_MONEY"));
    CHECK(hit.action == "junk");
    REQUIRE(hit.groups.size() == 1);
    CHECK(hit.groups[0].rcpts[0].maildir == "/mail/user@example.org/.Junk");
    CHECK(hit.groups[0].fields.find("X-Spam-Flag: YES") == 0);
    auto miss = run_spam_filter(cfg, nullptr, "Subject: hello\r\nX-Note: free money\r\n\r\nfree money\r\n",
                                request(), {local("user@example.org")});
    CHECK_FALSE(has(miss.items, "RULE_MONEY"));
    CHECK(miss.action == "deliver");
}

TEST_CASE("spam verdict: body rule sees decoded text, not the raw encoding") {
    auto f = filters();
    add_rule(*f, "LOTTERY", "body", "", "lottery winner", 3);
    auto cfg = snapshot_with(f);
    std::string b64 = "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                      "eW91IGFyZSBvdXIgbG90dGVyeSB3aW5uZXI=\r\n"; // "you are our lottery winner"
    CHECK(has(run_spam_filter(cfg, nullptr, b64, request(), {local("u@example.org")}).items,
              "RULE_LOTTERY"));
    CHECK_FALSE(has(run_spam_filter(cfg, nullptr, plain, request(), {local("u@example.org")}).items,
                    "RULE_LOTTERY"));
}

TEST_CASE("spam verdict: HELO sanity") {
    auto cfg = snapshot_with(filters());
    auto rq = request();
    auto items = [&] { return run_spam_filter(cfg, nullptr, plain, rq, {local("u@example.org")}).items; };
    CHECK_FALSE(has(items(), "HELO_OURS"));
    rq.helo = "example.org";
    CHECK(has(items(), "HELO_OURS"));
    rq.helo = "192.0.2.7";
    CHECK(has(items(), "HELO_BARE_IP"));
    rq.helo = "[192.0.2.8]";
    CHECK(has(items(), "HELO_LITERAL_MISMATCH"));
    rq.helo = "[192.0.2.7]";
    CHECK_FALSE(has(items(), "HELO_LITERAL_MISMATCH"));
    rq.helo = "localhost";
    CHECK(has(items(), "HELO_NOT_FQDN"));
}

TEST_CASE("spam verdict: SPF, DKIM and DMARC results score") {
    auto cfg = snapshot_with(filters());
    auto rq = request();
    rq.auth = {"fail", "fail", "fail", "quarantine", "sender.example"};
    auto d = run_spam_filter(cfg, nullptr, plain, rq, {local("u@example.org")});
    CHECK(has(d.items, "SPF_FAIL"));
    CHECK(has(d.items, "DKIM_FAIL"));
    CHECK(has(d.items, "DMARC_QUARANTINE"));
    rq.auth = {"pass", "pass", "pass", "none", "sender.example"};
    d = run_spam_filter(cfg, nullptr, plain, rq, {local("u@example.org")});
    CHECK(has(d.items, "SPF_PASS"));
    CHECK_FALSE(has(d.items, "SPF_FAIL"));
    CHECK(d.score < 0);
}

TEST_CASE("spam verdict: DMARC p=reject rejects by default, per domain junk or none") {
    auto f = filters();
    config::spam_settings_effective junk_domain;
    junk_domain.dmarc_reject_action = "junk";
    f->domains["other.example"] = junk_domain;
    auto cfg = snapshot_with(f);
    auto rq = request();
    rq.auth = {"fail", "none", "fail", "reject", "sender.example"};
    auto d = run_spam_filter(cfg, nullptr, plain, rq, {local("u@example.org")});
    REQUIRE(d.rejection);
    CHECK(d.rejection->code == 550);
    CHECK(d.rejection->lines[0].find("DMARC policy of sender.example") != std::string::npos);
    d = run_spam_filter(cfg, nullptr, plain, rq, {local("u@other.example")});
    CHECK_FALSE(d.rejection);
    CHECK(d.groups[0].rcpts[0].maildir.ends_with("/.Junk"));
    // Mixed: the example.org recipient cannot be refused alone, so it goes to Junk too.
    d = run_spam_filter(cfg, nullptr, plain, rq, {local("u@example.org"), local("u@other.example")});
    CHECK_FALSE(d.rejection);
    for (const auto& g : d.groups)
        for (const auto& r : g.rcpts) CHECK(r.maildir.ends_with("/.Junk"));
    // carterod.conf dmarc_reject = no turns reject into Junk everywhere.
    rq.dmarc_reject_allowed = false;
    d = run_spam_filter(cfg, nullptr, plain, rq, {local("u@example.org")});
    CHECK_FALSE(d.rejection);
    // p=quarantine → Junk by default.
    rq.dmarc_reject_allowed = true;
    rq.auth.dmarc_policy = "quarantine";
    d = run_spam_filter(cfg, nullptr, plain, rq, {local("u@example.org")});
    CHECK(d.groups[0].rcpts[0].maildir.ends_with("/.Junk"));
}

TEST_CASE("spam verdict: thresholds decide tag, junk and reject with a reason") {
    auto f = filters();
    add_rule(*f, "BAD", "body", "", "bad", 5.5);
    add_rule(*f, "WORSE", "body", "", "worse", 10);
    auto cfg = snapshot_with(f);
    auto tag = run_spam_filter(cfg, nullptr, "Subject: x\r\n\r\nbad\r\n", request(), {local("u@example.org")});
    CHECK(tag.action == "deliver");
    CHECK(tag.groups[0].fields.find("X-Spam-Flag: YES") == 0);
    auto rej = run_spam_filter(cfg, nullptr, "Subject: x\r\n\r\nbad worse\r\n", request(), {local("u@example.org")});
    REQUIRE(rej.rejection);
    CHECK(rej.rejection->enhanced == "5.7.1");
    CHECK(rej.rejection->lines[0].find("score 15.5, limit 15.0") != std::string::npos);
    CHECK(rej.rejection->lines[0].find("body rule WORSE") != std::string::npos);
}

TEST_CASE("spam verdict: allow and block lists, most specific wins") {
    auto f = filters();
    add_rule(*f, "BAD", "body", "", "bad", 7);
    add_list(*f, "block", "sender", "global", "", "@sender.example");
    add_list(*f, "allow", "sender", "mailbox", "boss@example.org", "someone@sender.example");
    add_list(*f, "allow", "recipient", "global", "", "abuse@example.org");
    add_list(*f, "block", "sender", "domain", "other.example", "192.0.2.0/24");
    auto cfg = snapshot_with(f);
    auto rq = request();
    const std::string spam = "Subject: x\r\n\r\nbad\r\n";
    // Global block on the sender's domain.
    auto d = run_spam_filter(cfg, nullptr, plain, rq, {local("u@example.org")});
    CHECK(has(d.items, "BLOCKLIST"));
    CHECK(d.rejection);
    // The mailbox's allow entry beats the global block — but only with SPF pass.
    d = run_spam_filter(cfg, nullptr, spam, rq, {local("boss@example.org")});
    CHECK(has(d.items, "BLOCKLIST"));
    rq.auth.spf = "pass";
    d = run_spam_filter(cfg, nullptr, spam, rq, {local("boss@example.org")});
    CHECK(has(d.items, "ALLOWLIST"));
    CHECK(d.action == "deliver");
    // Recipient allow list.
    rq.mail_from = "x@elsewhere.example";
    d = run_spam_filter(cfg, nullptr, spam, rq, {local("abuse@example.org")});
    CHECK(has(d.items, "ALLOWLIST"));
    d = run_spam_filter(cfg, nullptr, spam, rq, {local("u@example.org")});
    CHECK_FALSE(has(d.items, "ALLOWLIST"));
    CHECK(d.action == "junk");
    // Network entry, domain scope: only for that domain's recipients, only from that network.
    const std::string elsewhere = "From: x@elsewhere.example\r\n\r\nhi\r\n";
    d = run_spam_filter(cfg, nullptr, elsewhere, rq, {local("u@other.example")});
    CHECK(has(d.items, "BLOCKLIST"));
    d = run_spam_filter(cfg, nullptr, elsewhere, rq, {local("u@example.org")});
    CHECK_FALSE(has(d.items, "BLOCKLIST"));
    rq.client_ip = "198.51.100.1";
    d = run_spam_filter(cfg, nullptr, elsewhere, rq, {local("u@other.example")});
    CHECK_FALSE(has(d.items, "BLOCKLIST"));
    // Recipients with different outcomes get separate groups with their own fields.
    rq.client_ip = "192.0.2.7";
    d = run_spam_filter(cfg, nullptr, spam, rq, {local("abuse@example.org"), local("u@example.org")});
    CHECK(d.groups.size() == 2);
}

TEST_CASE("spam verdict: a disabled domain gets no X-Spam fields") {
    auto f = filters();
    add_rule(*f, "BAD", "body", "", "bad", 7);
    config::spam_settings_effective off;
    off.enabled = false;
    f->domains["other.example"] = off;
    auto cfg = snapshot_with(f);
    auto d = run_spam_filter(cfg, nullptr, "Subject: x\r\n\r\nbad\r\n", request(), {local("u@other.example")});
    REQUIRE(d.groups.size() == 1);
    CHECK(d.groups[0].fields.empty());
    CHECK(d.groups[0].rcpts[0].maildir == "/mail/u@other.example");
}

TEST_CASE("spam dns: DNSBL hit, DNSWL, refused codes, FCrDNS, deadline") {
    scripted_resolver r;
    std::vector<config::filter_snapshot::zone> zones(3);
    zones[0].row = {"bl.example", "block", 4, "127.0.0.0/8", true};
    zones[0].match = config::parse_cidr("127.0.0.0/8").value;
    zones[1].row = {"wl.example", "allow", -2, "127.0.0.0/8", true};
    zones[1].match = config::parse_cidr("127.0.0.0/8").value;
    zones[2].row = {"strict.example", "block", 5, "127.0.0.4/32", true};
    zones[2].match = config::parse_cidr("127.0.0.4/32").value;
    r.answers["2.0.0.127.bl.example A"] = ok({"127.0.0.2"});
    r.answers["2.0.0.127.strict.example A"] = ok({"127.0.0.2"}); // outside its match
    r.answers["2.0.0.127.in-addr.arpa PTR"] = ok({"host.example."});
    r.answers["host.example A"] = ok({"127.0.0.2"});
    auto f = probe_spam_dns(r, "127.0.0.2", zones, std::chrono::seconds(2));
    REQUIRE(f.hits.size() == 1);
    CHECK(f.hits[0].zone == "bl.example");
    CHECK(f.rdns == rdns_state::confirmed);
    CHECK(dnsbl_query_name("192.0.2.1", "z.example") == "1.2.0.192.z.example");
    CHECK(dnsbl_query_name("not-ip", "z.example").empty());

    // Not listed, no PTR.
    f = probe_spam_dns(r, "127.0.0.3", zones, std::chrono::seconds(2));
    CHECK(f.hits.empty());
    CHECK(f.rdns == rdns_state::none);

    // 127.255.255.254: "query refused" — never a listing.
    r.answers["5.0.0.127.bl.example A"] = ok({"127.255.255.254"});
    CHECK(probe_spam_dns(r, "127.0.0.5", zones, std::chrono::seconds(2)).hits.empty());

    // A PTR that does not resolve back.
    r.answers["6.0.0.127.in-addr.arpa PTR"] = ok({"liar.example."});
    r.answers["liar.example A"] = ok({"10.0.0.1"});
    CHECK(probe_spam_dns(r, "127.0.0.6", zones, std::chrono::seconds(2)).rdns ==
          rdns_state::unconfirmed);

    // A slow server: cut off at the deadline, counted as timed out, nothing listed.
    r.delay = std::chrono::milliseconds(500);
    const auto t0 = std::chrono::steady_clock::now();
    f = probe_spam_dns(r, "127.0.0.2", zones, std::chrono::milliseconds(100));
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(400));
    CHECK(f.hits.empty());
    CHECK(f.timed_out > 0);
    CHECK(f.rdns == rdns_state::unknown);
    std::this_thread::sleep_for(std::chrono::milliseconds(600)); // let the late callbacks finish
}
