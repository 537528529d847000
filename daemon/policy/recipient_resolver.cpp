// daemon/policy/recipient_resolver.cpp — RCPT decisions: local lookup, forwarders, relay rules.
#include "daemon/policy/recipient_resolver.hpp"

#include "core/address_norm.hpp"

#include <algorithm>

namespace cartero::policy {

namespace {

std::string lower_ascii(std::string s) {
    for (auto& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

std::string domain_of(const std::string& address) {
    auto at = address.rfind('@');
    return at == std::string::npos ? std::string() : address.substr(at + 1);
}

std::string local_of(const std::string& address) {
    auto at = address.rfind('@');
    return at == std::string::npos ? address : address.substr(0, at);
}

} // namespace

struct recipient_resolver::expansion {
    std::vector<queue::recipient> targets;
    bool loop = false;
    std::string loop_at;
    bool direct_mailbox_disabled = false;
    std::size_t unknown = 0;
};

recipient_resolver::recipient_resolver(resolver_settings s, quota_probe probe)
    : s_(std::move(s)), probe_(std::move(probe)) {}

std::string recipient_resolver::maildir_for(const std::string& domain,
                                            const std::string& local) const {
    return (s_.mail_root / domain / local).string();
}

std::string recipient_resolver::holding_maildir() const {
    // "_" cannot start a valid domain name, so this never collides with a domain's directory.
    return (s_.mail_root / "_postmaster").string();
}

bool recipient_resolver::expand(const config::snapshot& cfg, const std::string& address,
                                std::size_t depth, std::vector<std::string>& chain,
                                expansion& out) const {
    if (depth > s_.max_forward_depth ||
        std::find(chain.begin(), chain.end(), address) != chain.end()) {
        out.loop = true;
        out.loop_at = address;
        return false;
    }
    const std::string domain = domain_of(address);
    auto add_target = [&](queue::recipient r) {
        for (const auto& t : out.targets)
            if (t.kind == r.kind && t.deliver_to == r.deliver_to) return; // deliver once
        out.targets.push_back(std::move(r));
    };
    if (!cfg.domains.count(domain)) {
        // A forwarder (configured by the admin) may point anywhere: queue it for outbound.
        add_target({address, address, queue::rcpt_kind::remote, {}, 0});
        return true;
    }
    if (auto mb = cfg.mailboxes.find(address); mb != cfg.mailboxes.end()) {
        if (!mb->second.enabled) {
            if (depth == 0) out.direct_mailbox_disabled = true;
            ++out.unknown;
            return true;
        }
        add_target({address, address, queue::rcpt_kind::local,
                    maildir_for(mb->second.domain, mb->second.local), mb->second.quota_bytes});
        return true;
    }
    auto forward = [&](const std::vector<std::string>& dests) {
        chain.push_back(address);
        for (const auto& d : dests)
            if (!expand(cfg, d, depth + 1, chain, out)) {
                chain.pop_back();
                return false;
            }
        chain.pop_back();
        return true;
    };
    if (auto fw = cfg.forwarders.find(address); fw != cfg.forwarders.end())
        return forward(fw->second);
    if (local_of(address) == "postmaster") {
        // RFC 5321 §4.5.1: postmaster at every local domain must be accepted.
        if (!cfg.postmaster.empty() && cfg.postmaster != address &&
            std::find(chain.begin(), chain.end(), cfg.postmaster) == chain.end()) {
            chain.push_back(address);
            bool ok = expand(cfg, cfg.postmaster, depth + 1, chain, out);
            chain.pop_back();
            return ok;
        }
        add_target({address, "postmaster", queue::rcpt_kind::local, holding_maildir(), 0});
        return true;
    }
    if (auto ca = cfg.forwarders.find("@" + domain); ca != cfg.forwarders.end())
        return forward(ca->second);
    ++out.unknown;
    return true;
}

resolution recipient_resolver::resolve(const config::snapshot& cfg, const session_facts& who,
                                       const smtp::path& rcpt,
                                       std::optional<std::uint64_t> declared_size) const {
    resolution res;
    auto refuse = [&](int code, const char* enh, std::string text) {
        res.answer = reply(code, enh, std::move(text));
        res.targets.clear();
        return res;
    };

    if (rcpt.had_source_route)
        return refuse(550, "5.7.1", "Source-routed addresses are not accepted");

    std::string address;
    if (rcpt.domain.empty()) {
        // RFC 5321 §4.1.1.3: <Postmaster> without a domain, any case.
        if (lower_ascii(rcpt.local) != "postmaster")
            return refuse(550, "5.1.3", "Recipient address needs a domain");
        std::vector<std::string> chain;
        expansion ex;
        if (!cfg.postmaster.empty()) {
            expand(cfg, cfg.postmaster, 0, chain, ex);
        }
        if (ex.targets.empty())
            ex.targets.push_back(
                {"postmaster", "postmaster", queue::rcpt_kind::local, holding_maildir(), 0});
        res.answer = reply(250, "2.1.5", "Ok");
        res.targets = std::move(ex.targets);
        return res;
    }
    if (rcpt.is_address_literal())
        return refuse(550, "5.7.1", "Address literals are not accepted as recipients");
    if (rcpt.domain.back() == '.')
        return refuse(553, "5.1.3", "Bad recipient domain: trailing dot");

    auto dom = names::normalize_domain(rcpt.domain);
    if (!dom.ok) return refuse(553, "5.1.3", "Bad recipient domain: " + dom.error);

    if (!cfg.domains.count(dom.value)) {
        if (!who.may_relay()) return refuse(550, "5.7.1", "Relay access denied");
        std::string remote = rcpt.address();
        remote = remote.substr(0, remote.rfind('@') + 1) + dom.value;
        res.answer = reply(250, "2.1.5", "Ok");
        res.targets.push_back({remote, remote, queue::rcpt_kind::remote, {}, 0});
        return res;
    }

    // A local domain: the tricks (user%other@, other!user@, "a@b"@) are no addresses here.
    auto norm = names::normalize_address(rcpt.local + "@" + dom.value);
    if (rcpt.quoted || !norm.ok) return refuse(550, "5.1.1", "No such user here");
    address = norm.value;

    // Flow 4: VERP return paths are no mailboxes; the token's MAC decides (no queue.db read).
    if (lower_ascii(local_of(address)).rfind("bounces+", 0) == 0 &&
        !cfg.mailboxes.count(address) && !cfg.forwarders.count(address)) {
        auto ref = s_.verp_key.empty() ? std::nullopt
                                       : bounce::verp_parse_address(address, s_.verp_key);
        if (!ref) return refuse(550, "5.1.1", "No such user here");
        res.answer = reply(250, "2.1.5", "Ok");
        res.verp = std::move(ref);
        return res;
    }

    std::vector<std::string> chain;
    expansion ex;
    if (!expand(cfg, address, 0, chain, ex))
        return refuse(550, "5.4.6", "Forwarding loop detected at <" + ex.loop_at + ">");
    if (ex.targets.empty()) {
        if (ex.direct_mailbox_disabled) return refuse(550, "5.2.1", "Mailbox disabled");
        return refuse(550, "5.1.1", "No such user here");
    }
    // Quota: a mailbox addressed directly that is full (or cannot take the declared SIZE)
    // is a temporary refusal (RFC 3463 4.2.2); forwarded copies are judged at delivery.
    if (ex.targets.size() == 1 && ex.targets[0].kind == queue::rcpt_kind::local &&
        ex.targets[0].deliver_to == address && ex.targets[0].quota_bytes > 0 && probe_ &&
        !probe_(ex.targets[0].maildir, ex.targets[0].quota_bytes, declared_size.value_or(0)))
        return refuse(452, "4.2.2", "Mailbox full");
    for (auto& t : ex.targets) t.rcpt_to = address;
    res.answer = reply(250, "2.1.5", "Ok");
    res.targets = std::move(ex.targets);
    return res;
}

} // namespace cartero::policy
