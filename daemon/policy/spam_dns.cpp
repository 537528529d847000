// daemon/policy/spam_dns.cpp — DNSBL/DNSWL and reverse-DNS lookups in parallel under one deadline.
#include "daemon/policy/spam_dns.hpp"

#include <arpa/inet.h>

#include <condition_variable>
#include <memory>
#include <mutex>

namespace cartero::policy {

namespace {

// Shared with the resolver's callbacks, which may run after probe_spam_dns gave up waiting.
struct pending {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::optional<dns::answer>> answers;
    std::size_t left = 0;
};

std::size_t ask(const std::shared_ptr<pending>& p, dns::resolver& r, const std::string& name,
                dns::rr_type type) {
    std::size_t slot;
    {
        std::lock_guard lk(p->mu);
        slot = p->answers.size();
        p->answers.emplace_back();
        ++p->left;
    }
    r.async_lookup(name, type, [p, slot](dns::answer a) {
        std::lock_guard lk(p->mu);
        p->answers[slot] = std::move(a);
        --p->left;
        p->cv.notify_all();
    });
    return slot;
}

void wait(const std::shared_ptr<pending>& p, std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lk(p->mu);
    p->cv.wait_until(lk, deadline, [&] { return p->left == 0; });
}

std::optional<dns::answer> take(const std::shared_ptr<pending>& p, std::size_t slot) {
    std::lock_guard lk(p->mu);
    return p->answers[slot];
}

bool ip_bytes(std::string_view ip, std::vector<std::uint8_t>& out) {
    std::string z(ip);
    unsigned char b[16] = {};
    if (inet_pton(AF_INET, z.c_str(), b) == 1) {
        out.assign(b, b + 4);
        return true;
    }
    if (inet_pton(AF_INET6, z.c_str(), b) == 1) {
        out.assign(b, b + 16);
        return true;
    }
    return false;
}

bool same_ip(std::string_view a, std::string_view b) {
    std::vector<std::uint8_t> x, y;
    return ip_bytes(a, x) && ip_bytes(b, y) && x == y;
}

} // namespace

std::string dnsbl_query_name(std::string_view ip, std::string_view zone) {
    std::string rev = dns::reverse_name(ip);
    for (std::string_view suffix : {".in-addr.arpa", ".ip6.arpa"})
        if (rev.size() > suffix.size() && rev.ends_with(suffix))
            return rev.substr(0, rev.size() - suffix.size()) + "." + std::string(zone);
    return {};
}

spam_dns_facts probe_spam_dns(dns::resolver& r, const std::string& client_ip,
                              const std::vector<config::filter_snapshot::zone>& zones,
                              std::chrono::milliseconds budget) {
    spam_dns_facts f;
    const auto deadline = std::chrono::steady_clock::now() + budget;
    const std::string rev = dns::reverse_name(client_ip);
    if (rev.empty()) return f;
    auto p = std::make_shared<pending>();
    const std::size_t ptr_slot = ask(p, r, rev, dns::rr_type::ptr);
    std::vector<std::size_t> zone_slots;
    for (const auto& z : zones)
        zone_slots.push_back(ask(p, r, dnsbl_query_name(client_ip, z.row.zone), dns::rr_type::a));
    wait(p, deadline);

    static const config::cidr refused = config::parse_cidr("127.255.255.0/24").value;
    for (std::size_t i = 0; i < zones.size(); ++i) {
        auto a = take(p, zone_slots[i]);
        if (!a) {
            ++f.timed_out;
            continue;
        }
        if (!a->ok()) continue;
        for (const auto& rec : a->records) {
            std::vector<std::uint8_t> b;
            if (!ip_bytes(rec, b) || b.size() != 4) continue;
            if (refused.contains(b) || !zones[i].match.contains(b)) continue;
            f.hits.push_back({zones[i].row.zone, rec, zones[i].row.weight});
            break; // a zone counts once
        }
    }

    auto ptr = take(p, ptr_slot);
    if (!ptr) {
        ++f.timed_out;
        return f;
    }
    if (ptr->st == dns::status::nxdomain || ptr->st == dns::status::nodata ||
        (ptr->ok() && ptr->records.empty())) {
        f.rdns = rdns_state::none;
        return f;
    }
    if (!ptr->ok()) return f; // servfail/timeout: unknown, scores nothing
    f.ptr_name = ptr->records.front();
    if (!f.ptr_name.empty() && f.ptr_name.back() == '.') f.ptr_name.pop_back();
    // Forward confirmation (FCrDNS): the PTR name must resolve back to the client.
    const bool v6 = client_ip.find(':') != std::string::npos;
    auto q = std::make_shared<pending>();
    const std::size_t fwd = ask(q, r, f.ptr_name, v6 ? dns::rr_type::aaaa : dns::rr_type::a);
    wait(q, deadline);
    auto a = take(q, fwd);
    if (!a) {
        ++f.timed_out;
        return f;
    }
    if (a->st == dns::status::servfail || a->st == dns::status::timeout ||
        a->st == dns::status::error)
        return f;
    f.rdns = rdns_state::unconfirmed;
    for (const auto& rec : a->records)
        if (same_ip(rec, client_ip)) f.rdns = rdns_state::confirmed;
    return f;
}

} // namespace cartero::policy
