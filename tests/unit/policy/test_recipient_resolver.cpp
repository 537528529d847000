// tests/unit/policy/test_recipient_resolver.cpp — RCPT decisions: relay rules, forwarders,
// catch-all, postmaster, loops, quota, and the classic relay tricks.
#include "daemon/policy/recipient_resolver.hpp"
#include "daemon/policy/sender_policy.hpp"

#include <catch2/catch.hpp>

using namespace cartero;
using namespace cartero::policy;

namespace {

config::snapshot demo() {
    config::snapshot s;
    s.domains = {"example.com", "xn--bcher-kva.example"};
    auto mb = [&](std::string local, std::string domain, std::uint64_t quota = 0,
                  bool enabled = true) {
        config::mailbox_entry e;
        e.address = local + "@" + domain;
        e.local = local;
        e.domain = domain;
        e.quota_bytes = quota;
        e.enabled = enabled;
        s.mailboxes[e.address] = e;
    };
    mb("alice", "example.com");
    mb("bob", "example.com");
    mb("full", "example.com", 1000);
    mb("off", "example.com", 0, false);
    mb("anna", "xn--bcher-kva.example");
    s.forwarders["sales@example.com"] = {"alice@example.com", "bob@example.com"};
    s.forwarders["team@example.com"] = {"sales@example.com", "partner@remote.org"};
    s.forwarders["loop1@example.com"] = {"loop2@example.com"};
    s.forwarders["loop2@example.com"] = {"loop1@example.com"};
    s.forwarders["info@example.com"] = {"alice@example.com"};
    s.forwarders["@xn--bcher-kva.example"] = {"anna@xn--bcher-kva.example"};
    return s;
}

smtp::path addr(std::string local, std::string domain) {
    smtp::path p;
    p.local = std::move(local);
    p.domain = std::move(domain);
    p.raw = p.local + "@" + p.domain;
    return p;
}

recipient_resolver make(bool full_mailboxes_refuse = true) {
    return recipient_resolver({"/m", 10}, [full_mailboxes_refuse](const std::string& md,
                                                                   std::uint64_t, std::uint64_t) {
        return !(full_mailboxes_refuse && md == "/m/example.com/full");
    });
}

session_facts stranger() {
    session_facts f;
    f.client_ip = "192.0.2.1";
    return f;
}

} // namespace

TEST_CASE("local mailboxes are found case-insensitively; unknown users are 550 5.1.1") {
    auto r = make();
    auto cfg = demo();
    auto res = r.resolve(cfg, stranger(), addr("Alice", "EXAMPLE.com"), {});
    REQUIRE(res.answer.code == 250);
    REQUIRE(res.targets.size() == 1);
    CHECK(res.targets[0].kind == queue::rcpt_kind::local);
    CHECK(res.targets[0].maildir == "/m/example.com/alice");
    res = r.resolve(cfg, stranger(), addr("nobody", "example.com"), {});
    CHECK(res.answer.code == 550);
    CHECK(res.answer.enhanced == "5.1.1");
    CHECK(res.targets.empty());
    res = r.resolve(cfg, stranger(), addr("off", "example.com"), {});
    CHECK(res.answer.enhanced == "5.2.1");
}

TEST_CASE("no relaying for strangers, whatever the trick") {
    auto r = make();
    auto cfg = demo();
    auto who = stranger();
    CHECK(r.resolve(cfg, who, addr("x", "remote.org"), {}).answer.enhanced == "5.7.1");
    // percent hack and bang path at a local domain: no such user, never relayed
    auto pct = r.resolve(cfg, who, addr("x%remote.org", "example.com"), {});
    CHECK(pct.answer.code == 550);
    CHECK(pct.targets.empty());
    CHECK(r.resolve(cfg, who, addr("remote.org!x", "example.com"), {}).answer.code == 550);
    auto quoted = addr("x@remote.org", "example.com");
    quoted.quoted = true;
    CHECK(r.resolve(cfg, who, quoted, {}).answer.code == 550);
    auto routed = addr("x", "remote.org");
    routed.had_source_route = true;
    CHECK(r.resolve(cfg, who, routed, {}).answer.enhanced == "5.7.1");
    CHECK(r.resolve(cfg, who, addr("x", "[127.0.0.1]"), {}).answer.enhanced == "5.7.1");
    CHECK(r.resolve(cfg, who, addr("alice", "example.com."), {}).answer.code == 553);
    CHECK(r.resolve(cfg, who, addr("x", "remote.org."), {}).answer.code == 553);
}

TEST_CASE("trusted networks and authenticated users may relay") {
    auto r = make();
    auto cfg = demo();
    auto who = stranger();
    who.trusted_network = true;
    auto res = r.resolve(cfg, who, addr("x", "Remote.ORG"), {});
    REQUIRE(res.answer.code == 250);
    CHECK(res.targets[0].kind == queue::rcpt_kind::remote);
    CHECK(res.targets[0].deliver_to == "x@remote.org");
    auto user = stranger();
    user.auth_user = "alice@example.com";
    CHECK(r.resolve(cfg, user, addr("x", "remote.org"), {}).answer.code == 250);
}

TEST_CASE("forwarders expand multi-level, deduplicated, remote destinations queued") {
    auto r = make();
    auto cfg = demo();
    auto res = r.resolve(cfg, stranger(), addr("team", "example.com"), {});
    REQUIRE(res.answer.code == 250);
    REQUIRE(res.targets.size() == 3);
    CHECK(res.targets[0].deliver_to == "alice@example.com");
    CHECK(res.targets[1].deliver_to == "bob@example.com");
    CHECK(res.targets[2].kind == queue::rcpt_kind::remote);
    CHECK(res.targets[2].deliver_to == "partner@remote.org");
    for (const auto& t : res.targets) CHECK(t.rcpt_to == "team@example.com");
}

TEST_CASE("a forwarding loop is an error, not a hang") {
    auto r = make();
    auto cfg = demo();
    auto res = r.resolve(cfg, stranger(), addr("loop1", "example.com"), {});
    CHECK(res.answer.code == 550);
    CHECK(res.answer.enhanced == "5.4.6");
}

TEST_CASE("catch-all takes unknown users of its domain, including IDNA input") {
    auto r = make();
    auto cfg = demo();
    auto res = r.resolve(cfg, stranger(), addr("whoever", "bücher.example"), {});
    REQUIRE(res.answer.code == 250);
    CHECK(res.targets[0].deliver_to == "anna@xn--bcher-kva.example");
}

TEST_CASE("postmaster is always accepted: bare, any case, at every local domain") {
    auto r = make();
    auto cfg = demo();
    smtp::path bare;
    bare.local = "PostMaster";
    auto res = r.resolve(cfg, stranger(), bare, {});
    REQUIRE(res.answer.code == 250);
    CHECK(res.targets[0].maildir == "/m/_postmaster");
    CHECK(r.resolve(cfg, stranger(), addr("POSTMASTER", "example.com"), {}).answer.code == 250);
    cfg.postmaster = "alice@example.com";
    res = r.resolve(cfg, stranger(), addr("postmaster", "xn--bcher-kva.example"), {});
    REQUIRE(res.answer.code == 250);
    CHECK(res.targets[0].deliver_to == "alice@example.com");
    res = r.resolve(cfg, stranger(), bare, {});
    CHECK(res.targets[0].deliver_to == "alice@example.com");
    smtp::path other;
    other.local = "alice";
    CHECK(r.resolve(cfg, stranger(), other, {}).answer.code == 550);
}

TEST_CASE("a full mailbox is 452 4.2.2 at RCPT") {
    auto r = make();
    auto cfg = demo();
    auto res = r.resolve(cfg, stranger(), addr("full", "example.com"), 5000);
    CHECK(res.answer.code == 452);
    CHECK(res.answer.enhanced == "4.2.2");
}

TEST_CASE("authenticated users send only as addresses they own") {
    auto cfg = demo();
    auto who = stranger();
    CHECK(check_sender(cfg, who, addr("anyone", "remote.org")).code == 250);
    who.auth_user = "alice@example.com";
    CHECK(check_sender(cfg, who, addr("Alice", "example.com")).code == 250);
    CHECK(check_sender(cfg, who, addr("info", "example.com")).code == 250); // forwarder to alice
    auto r = check_sender(cfg, who, addr("bob", "example.com"));
    CHECK(r.code == 553);
    CHECK(r.enhanced == "5.7.1");
    CHECK(check_sender(cfg, who, addr("sales", "example.com")).code == 250); // points at alice too
    CHECK(check_sender(cfg, who, addr("team", "example.com")).code == 553); // only indirectly
    smtp::path null;
    null.null_path = true;
    CHECK(check_sender(cfg, who, null).code == 250);
}

TEST_CASE("VERP return paths: a verified token is accepted without targets, a forged one is 550") {
    const std::string key = "0123456789abcdef0123456789abcdef";
    recipient_resolver r({"/m", 10, key}, {});
    auto cfg = demo();
    const bounce::verp_ref ref{"0123456789ABCDEF", 42};
    const std::string token = bounce::verp_token(ref, key);
    auto res = r.resolve(cfg, stranger(), addr("bounces+" + token, "example.com"), {});
    REQUIRE(res.answer.code == 250);
    CHECK(res.targets.empty());
    REQUIRE(res.verp);
    CHECK(*res.verp == ref);
    // Remote MTAs may change the case of the local part.
    std::string upper = token;
    for (auto& c : upper)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    res = r.resolve(cfg, stranger(), addr("Bounces+" + upper, "EXAMPLE.COM"), {});
    CHECK(res.answer.code == 250);
    CHECK(res.verp);
    // A forged MAC, another recipient id with the same MAC, or another key: no such user.
    std::string forged = token;
    forged.back() = forged.back() == 'a' ? 'b' : 'a';
    res = r.resolve(cfg, stranger(), addr("bounces+" + forged, "example.com"), {});
    CHECK(res.answer.code == 550);
    CHECK(res.answer.enhanced == "5.1.1");
    CHECK_FALSE(res.verp);
    res = r.resolve(cfg, stranger(), addr("bounces+junk", "example.com"), {});
    CHECK(res.answer.code == 550);
    recipient_resolver other({"/m", 10, "another-key-another-key-another!!"}, {});
    res = other.resolve(cfg, stranger(), addr("bounces+" + token, "example.com"), {});
    CHECK(res.answer.code == 550);
    // Without a key no VERP address is accepted; remote domains are not VERP targets.
    res = make().resolve(cfg, stranger(), addr("bounces+" + token, "example.com"), {});
    CHECK(res.answer.code == 550);
    res = r.resolve(cfg, stranger(), addr("bounces+" + token, "remote.org"), {});
    CHECK(res.answer.enhanced == "5.7.1");
}
