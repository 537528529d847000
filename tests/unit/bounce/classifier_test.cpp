// tests/unit/bounce/classifier_test.cpp — the classifier against the hand-written golden table.
#include "daemon/bounce/classifier.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <algorithm>
#include <fstream>
#include <set>
#include <string>

using namespace cartero::bounce;

namespace {

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.pop_back();
    while (!s.empty() && s.front() == ' ') s.erase(0, 1);
    return s;
}

} // namespace

TEST_CASE("classifier: golden table of real-world style replies", "[bounce][classifier]") {
    const auto path = std::filesystem::path(__FILE__).parent_path() / "classifier_golden.txt";
    std::ifstream in(path);
    REQUIRE(in);
    std::string line;
    int rows = 0;
    std::set<std::string> classes_seen;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        auto p1 = line.find('|'), p2 = line.find('|', p1 + 1);
        REQUIRE(p2 != std::string::npos);
        std::string want_class = trim(line.substr(0, p1));
        std::string want_sev = trim(line.substr(p1 + 1, p2 - p1 - 1));
        std::string reply = trim(line.substr(p2 + 1));
        int code = std::stoi(reply.substr(0, 3));
        std::string rest = reply.size() > 4 ? reply.substr(4) : "";
        std::string enhanced;
        auto sp = rest.find(' ');
        std::string first = rest.substr(0, sp);
        if (first.size() >= 5 && first[1] == '.' && (first[0] == '4' || first[0] == '5') &&
            std::count(first.begin(), first.end(), '.') == 2) {
            enhanced = first;
            rest = sp == std::string::npos ? "" : rest.substr(sp + 1);
        }
        INFO(reply);
        auto c = classify(code, enhanced, rest);
        CHECK(std::string(to_string(c.cls)) == want_class);
        CHECK((c.hard ? "hard" : "soft") == want_sev);
        classes_seen.insert(want_class);
        ++rows;
    }
    CHECK(rows >= 40);
    CHECK(classes_seen.size() == 7); // every class is exercised
}

TEST_CASE("classifier: names round trip", "[bounce][classifier]") {
    for (auto c : {bounce_class::invalid_recipient, bounce_class::mailbox_full,
                   bounce_class::spam_or_policy_block, bounce_class::dns_failure,
                   bounce_class::tls_failure, bounce_class::timeout_or_connection,
                   bounce_class::other})
        CHECK(parse_class(to_string(c)) == c);
    CHECK(!parse_class("nonsense"));
}

TEST_CASE("classifier: a reply object, multi-line", "[bounce][classifier]") {
    cartero::reply r(550, "5.7.1", "Message rejected");
    r.lines.push_back("listed at a DNSBL");
    auto c = classify(r);
    CHECK(c.cls == bounce_class::spam_or_policy_block);
    CHECK(c.hard);
    CHECK(classify(0, "4.2.2", "").cls == bounce_class::mailbox_full); // DSN Status only
    CHECK(!classify(0, "4.2.2", "").hard);
}
