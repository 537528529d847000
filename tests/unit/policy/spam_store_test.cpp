// tests/unit/policy/spam_store_test.cpp — core/filter_store: validation, nothing half-saved,
// the snapshot carterod reads.
#include "core/config_db.hpp"
#include "core/filter_snapshot.hpp"
#include "core/filter_store.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

using namespace cartero::config;

namespace {

struct temp_db {
    std::filesystem::path dir;
    config_db db;
    static std::filesystem::path make_dir() {
        std::string t = (std::filesystem::temp_directory_path() / "cartero-spam-XXXXXX").string();
        if (!::mkdtemp(t.data())) throw std::runtime_error("mkdtemp failed");
        return t;
    }
    temp_db() : dir(make_dir()), db((dir / "config.db").string(), true) {
        db.add_domain("example.org");
        db.add_mailbox("user@example.org", "secret-password-1", 0);
    }
    ~temp_db() { std::filesystem::remove_all(dir); }
};

spam_rule_row rule(std::string name, std::string pattern) {
    spam_rule_row r;
    r.name = std::move(name);
    r.target = "header";
    r.header_name = "subject";
    r.pattern = std::move(pattern);
    r.score = 2.5;
    return r;
}

std::string error_of(auto fn) {
    try {
        fn();
    } catch (const config_error& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST_CASE("spam store: a good rule is stored and reaches the snapshot compiled") {
    temp_db t;
    add_spam_rule(t.db, rule("viagra", "(?i)v[i1]agra"));
    auto rules = list_spam_rules(t.db);
    REQUIRE(rules.size() == 1);
    CHECK(rules[0].header_name == "subject");
    auto snap = t.db.load_snapshot();
    REQUIRE(snap.filters);
    REQUIRE(snap.filters->rules.size() == 1);
    CHECK(snap.filters->rules[0].re);
    CHECK(snap.filters->problems.empty());
}

TEST_CASE("spam store: a regex that does not compile is refused and nothing is stored") {
    temp_db t;
    auto e = error_of([&] { add_spam_rule(t.db, rule("broken", "(unclosed")); });
    CHECK(e.find("does not compile") != std::string::npos);
    CHECK(list_spam_rules(t.db).empty());
    CHECK_FALSE(check_rule_pattern("a(b").ok);
    CHECK(check_rule_pattern("a(b)").ok);
}

TEST_CASE("spam store: a regex that could explode is refused") {
    temp_db t;
    // Nested counted repetition: tiny text, enormous program.
    auto e = error_of([&] { add_spam_rule(t.db, rule("huge", "((a{100}){100}){100}")); });
    CHECK(e.find("could explode") != std::string::npos);
    auto e2 = error_of([&] { add_spam_rule(t.db, rule("long", std::string(2000, 'a'))); });
    CHECK(e2.find("at most 1024") != std::string::npos);
    CHECK(list_spam_rules(t.db).empty());
    // Ordinary rules, Unicode classes included, stay well inside the limits.
    CHECK(check_rule_pattern("(?i)\\bfree\\s+money\\b").ok);
    CHECK(check_rule_pattern("\\p{Cyrillic}{5,}").ok);
}

TEST_CASE("spam store: rule names, targets and scores are checked; duplicates refused") {
    temp_db t;
    CHECK_FALSE(error_of([&] { add_spam_rule(t.db, rule("bad name", "x")); }).empty());
    auto r = rule("ok", "x");
    r.score = 500;
    CHECK_FALSE(error_of([&] { add_spam_rule(t.db, r); }).empty());
    r = rule("ok", "x");
    r.header_name = "";
    CHECK(error_of([&] { add_spam_rule(t.db, r); }).find("field name") != std::string::npos);
    add_spam_rule(t.db, rule("ok", "x"));
    CHECK(error_of([&] { add_spam_rule(t.db, rule("ok", "y")); }).find("already") !=
          std::string::npos);
    remove_spam_rule(t.db, "ok");
    CHECK(list_spam_rules(t.db).empty());
    CHECK_FALSE(error_of([&] { remove_spam_rule(t.db, "ok"); }).empty());
}

TEST_CASE("spam store: settings inherit and keep tag <= junk <= reject") {
    temp_db t;
    auto g = effective_spam_settings(t.db, "");
    CHECK(g.tag_threshold == 5.0);
    CHECK(g.junk_threshold == 6.0);
    CHECK(g.reject_threshold == 15.0);
    CHECK(g.dmarc_reject_action == "reject");
    CHECK(g.dmarc_quarantine_action == "junk");
    spam_settings_row d;
    d.domain = "example.org";
    d.reject_threshold = 9;
    d.dmarc_reject_action = "junk";
    set_spam_settings(t.db, d);
    auto e = effective_spam_settings(t.db, "example.org");
    CHECK(e.reject_threshold == 9.0);
    CHECK(e.tag_threshold == 5.0); // inherited
    CHECK(e.dmarc_reject_action == "junk");
    // A global junk threshold above the domain's reject is refused (it would break the domain).
    spam_settings_row bad;
    bad.junk_threshold = 10;
    CHECK(error_of([&] { set_spam_settings(t.db, bad); }).find("example.org") != std::string::npos);
    CHECK(effective_spam_settings(t.db, "").junk_threshold == 6.0); // unchanged
    spam_settings_row act;
    act.dmarc_quarantine_action = "bounce";
    CHECK_FALSE(error_of([&] { set_spam_settings(t.db, act); }).empty());
    spam_settings_row missing;
    missing.domain = "nowhere.example";
    CHECK(error_of([&] { set_spam_settings(t.db, missing); }).find("does not exist") !=
          std::string::npos);
    auto snap = t.db.load_snapshot();
    CHECK(snap.filters->settings_for("example.org").reject_threshold == 9.0);
    CHECK(snap.filters->settings_for("other.example").reject_threshold == 15.0);
}

TEST_CASE("spam store: list entries are normalised and checked") {
    temp_db t;
    spam_list_row r{"allow", "sender", "global", "", "Friend@Partner.EXAMPLE", ""};
    auto s = add_spam_list_entry(t.db, r);
    CHECK(s.entry == "friend@partner.example");
    CHECK(s.entry_kind == "address");
    s = add_spam_list_entry(t.db, {"block", "sender", "domain", "example.org", "192.0.2.0/24", ""});
    CHECK(s.entry_kind == "network");
    s = add_spam_list_entry(t.db, {"block", "sender", "mailbox", "user@example.org", "@spam.example", ""});
    CHECK(s.entry_kind == "domain");
    CHECK(error_of([&] { add_spam_list_entry(t.db, r); }).find("already") != std::string::npos);
    CHECK(error_of([&] {
              add_spam_list_entry(t.db, {"block", "recipient", "global", "", "10.0.0.1", ""});
          }).find("only allowed for senders") != std::string::npos);
    CHECK_FALSE(error_of([&] {
                    add_spam_list_entry(t.db, {"block", "sender", "global", "", "10.0.0.1/8", ""});
                }).empty()); // host bits set
    CHECK_FALSE(error_of([&] {
                    add_spam_list_entry(t.db, {"block", "sender", "mailbox", "nobody@example.org",
                                               "@x.example", ""});
                }).empty());
    CHECK(list_spam_list_entries(t.db).size() == 3);
    CHECK(list_spam_list_entries(t.db, "block").size() == 2);
    remove_spam_list_entry(t.db, {"allow", "sender", "global", "", "friend@partner.example", ""});
    CHECK(list_spam_list_entries(t.db, "allow").empty());
    auto snap = t.db.load_snapshot();
    REQUIRE(snap.filters->lists.size() == 2);
}

TEST_CASE("spam store: DNSBL zones need a matching sign and a loopback match") {
    temp_db t;
    add_dnsbl_zone(t.db, {"zen.example", "block", 4, "127.0.0.2/32", true});
    CHECK_FALSE(error_of([&] { add_dnsbl_zone(t.db, {"wl.example", "allow", 2, "127.0.0.0/8", true}); }).empty());
    CHECK_FALSE(error_of([&] { add_dnsbl_zone(t.db, {"bl.example", "block", 2, "10.0.0.0/8", true}); }).empty());
    CHECK_FALSE(error_of([&] { add_dnsbl_zone(t.db, {"zen.example", "block", 3, "127.0.0.0/8", true}); }).empty());
    add_dnsbl_zone(t.db, {"wl.example", "allow", -2, "127.0.0.0/8", true});
    auto zones = list_dnsbl_zones(t.db);
    REQUIRE(zones.size() == 2);
    CHECK(zones[1].match == "127.0.0.2/32");
    auto snap = t.db.load_snapshot();
    CHECK(snap.filters->zones.size() == 2);
    remove_dnsbl_zone(t.db, "zen.example");
    CHECK(list_dnsbl_zones(t.db).size() == 1);
}
