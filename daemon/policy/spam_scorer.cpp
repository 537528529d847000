// daemon/policy/spam_scorer.cpp — message-wide score items: DNS lists, rDNS, HELO, SPF/DKIM/DMARC, rules.
#include "daemon/policy/spam_scorer.hpp"

#include <re2/re2.h>

#include <arpa/inet.h>

#include <cctype>

namespace cartero::policy {

namespace w = spam_weights;

namespace {

bool is_ip(const std::string& s) {
    unsigned char b[16];
    return inet_pton(AF_INET, s.c_str(), b) == 1 || inet_pton(AF_INET6, s.c_str(), b) == 1;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// Report details are built from peer input (HELO, PTR): printable ASCII only, bounded.
std::string printable(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 100))
        out += (c >= 0x20 && c < 0x7f) ? c : '?';
    return out;
}

void helo_items(const spam_request& rq, const config::snapshot& cfg, std::vector<score_item>& out) {
    const std::string h = lower(rq.helo);
    if (h.empty()) return;
    if (h.size() > 2 && h.front() == '[' && h.back() == ']') {
        std::string lit = h.substr(1, h.size() - 2);
        if (lit.rfind("ipv6:", 0) == 0) lit = lit.substr(5);
        if (lit != lower(rq.client_ip))
            out.push_back({"HELO_LITERAL_MISMATCH", w::helo_literal_mismatch,
                           "HELO " + printable(rq.helo) + " is not the client " + rq.client_ip});
        return;
    }
    if (is_ip(h)) {
        out.push_back({"HELO_BARE_IP", w::helo_bare_ip,
                       "HELO " + printable(rq.helo) + " is an IP address without brackets"});
        return;
    }
    std::string name = h;
    if (!name.empty() && name.back() == '.') name.pop_back();
    if (name == lower(rq.hostname) || cfg.domains.count(name)) {
        out.push_back({"HELO_OURS", w::helo_ours,
                       "HELO " + printable(rq.helo) + " claims to be this server or its domain"});
        return;
    }
    if (name.find('.') == std::string::npos)
        out.push_back({"HELO_NOT_FQDN", w::helo_not_fqdn,
                       "HELO " + printable(rq.helo) + " is not a fully qualified name"});
}

void auth_items(const spam_auth& a, std::vector<score_item>& out) {
    if (a.spf == "fail") out.push_back({"SPF_FAIL", w::spf_fail, "SPF fail for the envelope sender"});
    else if (a.spf == "softfail")
        out.push_back({"SPF_SOFTFAIL", w::spf_softfail, "SPF softfail for the envelope sender"});
    else if (a.spf == "permerror")
        out.push_back({"SPF_PERMERROR", w::spf_permerror, "the sender's SPF record is broken"});
    else if (a.spf == "pass") out.push_back({"SPF_PASS", w::spf_pass, "SPF pass"});
    if (a.dkim == "pass") out.push_back({"DKIM_PASS", w::dkim_pass, "a valid DKIM signature"});
    else if (a.dkim == "fail")
        out.push_back({"DKIM_FAIL", w::dkim_fail, "a DKIM signature does not verify"});
    if (a.dmarc == "pass") {
        out.push_back({"DMARC_PASS", w::dmarc_pass, "DMARC pass"});
    } else if (a.dmarc == "fail") {
        const std::string d = printable(a.dmarc_domain);
        if (a.dmarc_policy == "reject")
            out.push_back({"DMARC_REJECT", w::dmarc_reject, "DMARC fail, " + d + " says p=reject"});
        else if (a.dmarc_policy == "quarantine")
            out.push_back({"DMARC_QUARANTINE", w::dmarc_quarantine,
                           "DMARC fail, " + d + " says p=quarantine"});
        else
            out.push_back({"DMARC_FAIL", w::dmarc_none, "DMARC fail, " + d + " says p=none"});
    }
}

void dns_items(const spam_dns_facts& dns, std::vector<score_item>& out) {
    for (const auto& hit : dns.hits)
        out.push_back({hit.weight > 0 ? "DNSBL" : "DNSWL", hit.weight,
                       (hit.weight > 0 ? "listed in " : "welcome in ") + hit.zone + " (" +
                           printable(hit.answer) + ")"});
    if (dns.rdns == rdns_state::none)
        out.push_back({"RDNS_NONE", w::rdns_none, "the client's address has no PTR record"});
    else if (dns.rdns == rdns_state::unconfirmed)
        out.push_back({"RDNS_UNCONFIRMED", w::rdns_unconfirmed,
                       "PTR " + printable(dns.ptr_name) + " does not resolve back to the client"});
}

void rule_items(const spam_message& msg, const config::snapshot& cfg, std::vector<score_item>& out) {
    if (!cfg.filters) return;
    for (const auto& r : cfg.filters->rules) {
        bool hit = false;
        if (r.row.target == "body") {
            hit = re2::RE2::PartialMatch(msg.text, *r.re);
        } else {
            for (const auto& [name, value] : msg.headers)
                if (name == r.row.header_name && re2::RE2::PartialMatch(value, *r.re)) {
                    hit = true;
                    break;
                }
        }
        if (hit)
            out.push_back({"RULE_" + r.row.name, r.row.score,
                           r.row.description.empty() ? r.row.target + " rule " + r.row.name
                                                     : printable(r.row.description)});
    }
}

} // namespace

std::vector<score_item> score_message(const spam_request& rq, const spam_message& msg,
                                      const spam_dns_facts& dns, const config::snapshot& cfg) {
    std::vector<score_item> out;
    dns_items(dns, out);
    helo_items(rq, cfg, out);
    auth_items(rq.auth, out);
    rule_items(msg, cfg, out);
    return out;
}

double total(const std::vector<score_item>& items) {
    double t = 0;
    for (const auto& i : items) t += i.score;
    return t;
}

} // namespace cartero::policy
