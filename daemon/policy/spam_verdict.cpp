// daemon/policy/spam_verdict.cpp — per-recipient lists, thresholds and DMARC actions; X-Spam-*
// fields; grouping recipients by outcome; the 550 when every recipient rejects.
#include "daemon/policy/spam_verdict.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <tuple>

namespace cartero::policy {

namespace {

std::string domain_of(const std::string& address) {
    auto at = address.rfind('@');
    return at == std::string::npos ? std::string() : address.substr(at + 1);
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// Local parts keep their case in MAIL FROM; list entries are lower-cased (as the store writes).
std::string norm(const std::string& address) { return lower(address); }

std::string fmt(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

bool ip_bytes(const std::string& ip, std::vector<std::uint8_t>& out) {
    unsigned char b[16] = {};
    if (inet_pton(AF_INET, ip.c_str(), b) == 1) {
        out.assign(b, b + 4);
        return true;
    }
    if (inet_pton(AF_INET6, ip.c_str(), b) == 1) {
        out.assign(b, b + 16);
        return true;
    }
    return false;
}

// Does `entry` (address, @domain) name `address`?
bool names(const config::spam_list_row& e, const std::string& address) {
    if (address.empty()) return false;
    if (e.entry_kind == "address") return e.entry == address;
    if (e.entry_kind == "domain") return e.entry.substr(1) == domain_of(address);
    return false;
}

} // namespace

std::string_view to_string(spam_action a) {
    switch (a) {
    case spam_action::deliver: return "deliver";
    case spam_action::junk: return "junk";
    case spam_action::reject: return "reject";
    }
    return "deliver";
}

std::optional<score_item> list_item(const spam_request& rq, const spam_message& msg,
                                    const config::filter_snapshot& f, const queue::recipient& r) {
    const std::string mail_from = norm(rq.mail_from);
    const std::string from_hdr = norm(msg.from_address);
    const std::string rcpt = norm(r.rcpt_to.empty() ? r.deliver_to : r.rcpt_to);
    const std::string mailbox = norm(r.deliver_to);
    const std::string rcpt_domain = domain_of(rcpt);
    std::vector<std::uint8_t> client;
    const bool have_ip = ip_bytes(rq.client_ip, client);

    const config::filter_snapshot::list_entry* best = nullptr;
    std::tuple<int, int, int> best_rank{-1, -1, -1};
    std::string why;
    for (const auto& le : f.lists) {
        const auto& e = le.row;
        // Scope: does this entry belong to this recipient?
        int scope_rank = 0;
        if (e.scope == "mailbox") {
            if (e.owner != mailbox && e.owner != rcpt) continue;
            scope_rank = 2;
        } else if (e.scope == "domain") {
            if (e.owner != rcpt_domain && e.owner != domain_of(mailbox)) continue;
            scope_rank = 1;
        }
        const bool allow = e.list == "allow";
        bool hit = false;
        std::string what;
        if (e.direction == "recipient") {
            hit = names(e, rcpt) || names(e, mailbox);
            what = "recipient " + rcpt;
        } else if (e.entry_kind == "network") {
            hit = have_ip && le.net && le.net->contains(client);
            what = "client " + rq.client_ip;
        } else {
            const bool spf_ok = rq.auth.spf == "pass";
            const bool dmarc_ok = rq.auth.dmarc == "pass";
            if (names(e, mail_from) && (!allow || spf_ok)) {
                hit = true;
                what = "sender " + mail_from;
            } else if (names(e, from_hdr) && (!allow || dmarc_ok)) {
                hit = true;
                what = "From " + from_hdr;
            }
        }
        if (!hit) continue;
        const int entry_rank = e.entry_kind == "address" ? 2 : e.entry_kind == "network" ? 1 : 0;
        std::tuple<int, int, int> rank{scope_rank, entry_rank, allow ? 0 : 1};
        if (rank > best_rank) {
            best_rank = rank;
            best = &le;
            why = what;
        }
    }
    if (!best) return std::nullopt;
    const auto& e = best->row;
    const bool allow = e.list == "allow";
    std::string detail = why + " matches " + e.entry + " on the " +
                         (e.scope == "global" ? std::string("global") : e.scope + " " + e.owner) +
                         " " + e.list + " list";
    return score_item{allow ? "ALLOWLIST" : "BLOCKLIST",
                      allow ? spam_weights::allowlist : spam_weights::blocklist, detail};
}

recipient_verdict judge_recipient(const spam_request& rq, const spam_message& msg,
                                  const std::vector<score_item>& message_items,
                                  const config::snapshot& cfg, const queue::recipient& r) {
    recipient_verdict v;
    static const config::filter_snapshot empty;
    const config::filter_snapshot& f = cfg.filters ? *cfg.filters : empty;
    const std::string rcpt = lower(r.rcpt_to.empty() ? r.deliver_to : r.rcpt_to);
    v.settings = f.settings_for(domain_of(rcpt));
    v.scored = v.settings.enabled;
    v.items = message_items;
    auto li = list_item(rq, msg, f, r);
    if (li) v.items.push_back(*li);
    const bool allowed = li && li->name == "ALLOWLIST";
    v.score = total(v.items);
    if (v.scored) {
        v.flag = v.score >= v.settings.tag_threshold;
        if (v.score >= v.settings.reject_threshold) v.action = spam_action::reject;
        else if (v.score >= v.settings.junk_threshold) v.action = spam_action::junk;
    }
    // RFC 7489 §6.3: the domain owner's policy, acted on as this domain's settings say.
    if (rq.auth.dmarc == "fail" && !allowed) {
        std::string act = rq.auth.dmarc_policy == "reject"       ? v.settings.dmarc_reject_action
                          : rq.auth.dmarc_policy == "quarantine" ? v.settings.dmarc_quarantine_action
                                                                 : std::string("none");
        if (act == "reject" && !rq.dmarc_reject_allowed) act = "junk";
        spam_action forced = act == "reject" ? spam_action::reject
                             : act == "junk" ? spam_action::junk
                                             : spam_action::deliver;
        if (forced > v.action) {
            v.action = forced;
            v.by_dmarc = true;
        }
        if (forced != spam_action::deliver) v.flag = true;
    }
    return v;
}

std::string spam_fields(const recipient_verdict& v) {
    if (!v.scored) return {};
    std::string out = "X-Spam-Flag: " + std::string(v.flag ? "YES" : "NO") + "\r\n";
    out += "X-Spam-Score: " + fmt(v.score) + "\r\n";
    out += "X-Spam-Report: score=" + fmt(v.score) + " tag=" + fmt(v.settings.tag_threshold) +
           " junk=" + fmt(v.settings.junk_threshold) + " reject=" +
           fmt(v.settings.reject_threshold) + " action=" + std::string(to_string(v.action));
    for (const auto& i : v.items) // one folded line each (RFC 5322 §2.2.3), well under 998
        out += "\r\n\t" + fmt(i.score) + " " + i.name + " " + i.detail.substr(0, 300);
    return out + "\r\n";
}

namespace {

std::string top_reasons(const recipient_verdict& v) {
    auto items = v.items;
    std::stable_sort(items.begin(), items.end(),
                     [](const score_item& a, const score_item& b) { return a.score > b.score; });
    std::string out;
    std::size_t n = 0;
    for (const auto& i : items) {
        if (i.score <= 0 || n == 3) break;
        out += (n++ ? "; " : "") + i.detail + " (+" + fmt(i.score) + ")";
    }
    return out;
}

reply rejection_for(const spam_request& rq, const recipient_verdict& v) {
    if (v.by_dmarc)
        return reply(550, "5.7.1",
                     "Message rejected: the DMARC policy of " + rq.auth.dmarc_domain +
                         " rejects mail that fails SPF and DKIM alignment");
    return reply(550, "5.7.1",
                 "Message rejected as spam (score " + fmt(v.score) + ", limit " +
                     fmt(v.settings.reject_threshold) + "): " + top_reasons(v));
}

std::string item_list(const std::vector<score_item>& items) {
    std::string out;
    for (const auto& i : items) out += (out.empty() ? "" : ",") + i.name + "=" + fmt(i.score);
    return out.empty() ? "none" : out;
}

} // namespace

spam_decision decide(const spam_request& rq, const spam_message& msg,
                     const std::vector<score_item>& message_items, const config::snapshot& cfg,
                     const std::vector<queue::recipient>& targets) {
    spam_decision d;
    std::vector<recipient_verdict> vs;
    for (const auto& t : targets) vs.push_back(judge_recipient(rq, msg, message_items, cfg, t));
    if (vs.empty()) {
        d.action = "deliver";
        d.items = item_list(message_items);
        d.score = total(message_items);
        return d;
    }
    d.score = vs.front().score;
    d.items = item_list(vs.front().items);
    const bool all_reject = std::all_of(vs.begin(), vs.end(), [](const recipient_verdict& v) {
        return v.action == spam_action::reject;
    });
    if (all_reject) {
        d.rejection = rejection_for(rq, vs.front());
        d.action = "reject";
        return d;
    }
    d.action = to_string(vs.front().action);
    for (std::size_t i = 0; i < targets.size(); ++i) {
        auto& v = vs[i];
        if (v.action == spam_action::reject) v.action = spam_action::junk; // cannot refuse one
        if (std::string(to_string(v.action)) != d.action) d.action = "mixed";
        queue::recipient r = targets[i];
        if (v.action == spam_action::junk && r.kind == queue::rcpt_kind::local)
            r.maildir += "/" + std::string(junk_folder);
        std::string fields = spam_fields(v);
        auto g = std::find_if(d.groups.begin(), d.groups.end(),
                              [&](const spam_group& x) { return x.fields == fields; });
        if (g == d.groups.end()) d.groups.push_back({std::move(fields), {std::move(r)}});
        else g->rcpts.push_back(std::move(r));
    }
    return d;
}

} // namespace cartero::policy
