// core/dns_records.cpp — expected DNS records from config.db, and their zone/JSON/CSV forms.
#include "core/dns_records.hpp"

#include "core/address_norm.hpp"
#include "core/dkim_key.hpp"
#include "core/dns/resolver.hpp"
#include "core/sending_store.hpp"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

namespace cartero::dns {
namespace {

bool under(std::string_view name, std::string_view domain) {
    return name == domain ||
           (name.size() > domain.size() && name.ends_with(domain) &&
            name[name.size() - domain.size() - 1] == '.');
}

// The local domain whose zone holds `host`'s records: the longest one it is under.
std::string zone_of(std::string_view host, const std::vector<std::string>& domains) {
    std::string best;
    for (const auto& d : domains)
        if (under(host, d) && d.size() > best.size()) best = d;
    return best;
}

// MX hosts with their preference, lowest first (then by name): RFC 5321 §5.1 order.
std::vector<std::pair<std::uint16_t, std::string>> mx_hosts(const std::vector<host_ip>& ips) {
    std::map<std::string, std::uint16_t> pref;
    for (const auto& ip : ips)
        if (ip.mx_preference) {
            auto [it, fresh] = pref.emplace(ip.hostname, *ip.mx_preference);
            if (!fresh) it->second = std::min(it->second, *ip.mx_preference);
        }
    std::vector<std::pair<std::uint16_t, std::string>> out;
    for (const auto& [h, p] : pref) out.emplace_back(p, h);
    std::sort(out.begin(), out.end());
    return out;
}

dns_record rec(std::string name, const char* type, std::uint32_t ttl, std::string value,
               bool required, std::string purpose) {
    return dns_record{std::move(name), type, ttl, std::move(value), required, std::move(purpose)};
}

std::string txt_quote(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        // RFC 1035 §5.1: '"' and '\' are escaped inside a quoted character-string.
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

std::string owner(std::string_view name, std::string_view origin) {
    if (name == origin) return "@";
    if (under(name, origin)) return std::string(name.substr(0, name.size() - origin.size() - 1));
    return std::string(name) + ".";
}

// The DKIM engineer's record value (RFC 6376 §3.6.1, RFC 8463 §4) for a config.db algorithm.
std::string dkim_txt(std::string_view algorithm, std::string_view public_key) {
    return dkim::dns_record_value(algorithm.starts_with("ed25519") ? dkim::key_algorithm::ed25519
                                                                   : dkim::key_algorithm::rsa,
                                  public_key);
}

std::string csv_field(std::string_view s) {
    if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
    std::string out = "\"";
    for (char c : s) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

} // namespace

std::string spf_value(const std::vector<host_ip>& ips, std::string_view relayhost) {
    std::string v = "v=spf1";
    std::set<std::string> seen;
    for (const auto& ip : ips)
        if (ip.outbound && seen.insert(ip.address).second)
            v += (ip.family == 6 ? " ip6:" : " ip4:") + ip.address;
    if (!relayhost.empty()) {
        // RFC 7208 §5.6 ip4/ip6 for a literal; §5.3 "a" for a name (its A/AAAA are allowed).
        auto ip = config::parse_ip(relayhost);
        if (ip) {
            if (seen.insert(ip.value.text).second)
                v += (ip.value.family == 6 ? " ip6:" : " ip4:") + ip.value.text;
        } else {
            v += " a:" + std::string(relayhost);
        }
    }
    return v + " -all";
}

std::string dmarc_value(std::string_view policy, std::string_view rua) {
    std::string v = "v=DMARC1; p=" + std::string(policy);
    if (!rua.empty()) v += "; rua=mailto:" + std::string(rua);
    // RFC 7489 §6.3: relaxed alignment (the defaults, stated so nobody has to look them up).
    return v + "; adkim=r; aspf=r";
}

std::string mta_sts_policy(std::string_view mode, const std::vector<std::string>& mx_hosts,
                           std::uint32_t max_age) {
    std::string p = "version: STSv1\r\nmode: " + std::string(mode) + "\r\n";
    for (const auto& h : mx_hosts) p += "mx: " + h + "\r\n";
    return p + "max_age: " + std::to_string(max_age) + "\r\n";
}

std::string mta_sts_id(std::string_view policy_text) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(policy_text.data(), policy_text.size(), md, &n, EVP_sha256(), nullptr))
        throw std::runtime_error("SHA-256 failed");
    static constexpr char hex[] = "0123456789abcdef";
    std::string id;
    // RFC 8461 §3.1: id = 1*32(ALPHA / DIGIT).
    for (unsigned i = 0; i < 16 && i < n; ++i) {
        id += hex[md[i] >> 4];
        id += hex[md[i] & 15];
    }
    return id;
}

std::string mta_sts_policy_for(const zone_inputs& in) {
    if (in.mta_sts_mode == "none") return {};
    std::vector<std::string> hosts;
    for (const auto& [p, h] : mx_hosts(in.ips)) hosts.push_back(h);
    if (hosts.empty()) return {};
    return mta_sts_policy(in.mta_sts_mode, hosts);
}

std::vector<std::string> split_txt(std::string_view value) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < value.size(); i += 255) out.emplace_back(value.substr(i, 255));
    if (out.empty()) out.emplace_back();
    return out;
}

std::vector<dns_record> generate_records(const zone_inputs& in) {
    std::vector<dns_record> out;
    const std::string& d = in.domain;
    const auto t = in.ttl;
    auto mx = mx_hosts(in.ips);

    // RFC 5321 §5.1 MX, lowest preference first; a domain without MX hosts takes no mail:
    // null MX (RFC 7505 §3), so senders fail fast instead of trying its A record.
    if (mx.empty())
        out.push_back(rec(d, "MX", t, "0 .", true, "null MX: this domain receives no mail"));
    for (const auto& [pref, host] : mx)
        out.push_back(rec(d, "MX", t, std::to_string(pref) + " " + host + ".", true,
                          "MX: where mail for the domain is delivered"));

    out.push_back(rec(d, "TXT", t, spf_value(in.ips, in.relayhost), true,
                      "SPF (RFC 7208): the addresses allowed to send mail for the domain"));

    for (const auto& k : in.dkim)
        out.push_back(rec(k.selector + "._domainkey." + d, "TXT", t,
                          dkim_txt(k.algorithm, k.public_key), true,
                          "DKIM (RFC 6376): public key of selector " + k.selector));

    out.push_back(rec("_dmarc." + d, "TXT", t, dmarc_value(in.dmarc_policy, in.dmarc_rua), true,
                      "DMARC (RFC 7489): policy for mail failing SPF and DKIM alignment"));

    if (!mx.empty()) {
        const std::string& first = mx.front().second;
        if (std::string policy = mta_sts_policy_for(in); !policy.empty()) {
            out.push_back(rec("_mta-sts." + d, "TXT", t, "v=STSv1; id=" + mta_sts_id(policy),
                              false, "MTA-STS (RFC 8461 §3.1): policy version; policy file at "
                                     "https://mta-sts." + d + "/.well-known/mta-sts.txt"));
            out.push_back(rec("mta-sts." + d, "CNAME", t, first + ".", false,
                              "MTA-STS policy host (HTTPS on the appliance)"));
        }
        if (!in.tlsrpt_rua.empty())
            out.push_back(rec("_smtp._tls." + d, "TXT", t,
                              "v=TLSRPTv1; rua=mailto:" + in.tlsrpt_rua, false,
                              "TLS-RPT (RFC 8460): where senders report TLS failures"));
        // RFC 6186 §3.1/§3.2 (and RFC 8314 §5.1 for submissions): priority weight port target.
        struct srv {
            const char* label;
            int port;
            const char* what;
        };
        for (const srv& s : {srv{"_submission._tcp.", 587, "mail submission (STARTTLS)"},
                             srv{"_submissions._tcp.", 465, "mail submission (implicit TLS)"},
                             srv{"_imaps._tcp.", 993, "IMAP over TLS"},
                             srv{"_pop3s._tcp.", 995, "POP3 over TLS"}})
            out.push_back(rec(s.label + d, "SRV", t,
                              "0 1 " + std::to_string(s.port) + " " + first + ".", false,
                              std::string("client autoconfiguration (RFC 6186): ") + s.what));
    }

    // Host names whose records live in this zone, in name order.
    std::map<std::string, std::vector<const host_ip*>> hosts;
    for (const auto& ip : in.ips)
        if (zone_of(ip.hostname, in.local_domains.empty() ? std::vector<std::string>{d}
                                                           : in.local_domains) == d)
            hosts[ip.hostname].push_back(&ip);
    std::set<std::string> domains(in.local_domains.begin(), in.local_domains.end());
    domains.insert(d);
    for (const auto& [host, addrs] : hosts) {
        bool takes_mail = false;
        std::string helo = "v=spf1";
        for (const host_ip* ip : addrs) {
            out.push_back(rec(host, ip->family == 6 ? "AAAA" : "A", t, ip->address, true,
                              "address of " + host));
            takes_mail = takes_mail || ip->mx_preference.has_value();
            helo += (ip->family == 6 ? " ip6:" : " ip4:") + ip->address;
        }
        // A host name that is also a mail domain has that domain's own MX and SPF above.
        if (domains.contains(host)) continue;
        // RFC 7208 §2.3: receivers check the HELO name; it may send from its own addresses only.
        out.push_back(rec(host, "TXT", t, helo + " -all", true,
                          "SPF for the HELO/EHLO name " + host + " (RFC 7208 §2.3)"));
        if (!takes_mail)
            out.push_back(rec(host, "MX", t, "0 .", true,
                              "null MX (RFC 7505): " + host + " receives no mail"));
    }
    return out;
}

zone_inputs load_zone_inputs(config::config_db& db, std::string_view domain) {
    auto norm = names::normalize_domain(domain);
    if (!norm) throw config::config_error(config::config_error::kind::invalid, norm.error);
    zone_inputs in;
    in.domain = norm.value;
    for (const auto& row : db.list_domains()) in.local_domains.push_back(row.name);
    if (std::find(in.local_domains.begin(), in.local_domains.end(), in.domain) ==
        in.local_domains.end())
        throw config::config_error(config::config_error::kind::not_found,
                                   "domain " + in.domain + " does not exist");
    for (const auto& r : config::list_ips(db))
        in.ips.push_back(host_ip{r.address, r.family, r.hostname, !r.pool.empty(), r.mx_preference});
    if (auto relay = config::get_relayhost(db)) in.relayhost = relay->next_hop;

    sqlite3_stmt* st = nullptr;
    const char* sql = "SELECT k.selector, k.algorithm, k.public_key FROM dkim_keys k"
                      " JOIN domains d ON d.id = k.domain_id"
                      " WHERE d.name = ?1 AND k.active = 1 ORDER BY k.selector";
    if (sqlite3_prepare_v2(db.handle(), sql, -1, &st, nullptr) != SQLITE_OK)
        throw config::config_error(config::config_error::kind::storage,
                                   std::string("config.db: ") + sqlite3_errmsg(db.handle()));
    sqlite3_bind_text(st, 1, in.domain.c_str(), -1, SQLITE_TRANSIENT);
    auto col = [&](int i) {
        auto p = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
        return std::string(p ? p : "");
    };
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) in.dkim.push_back({col(0), col(1), col(2)});
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        throw config::config_error(config::config_error::kind::storage,
                                   std::string("config.db: ") + sqlite3_errmsg(db.handle()));

    auto setting = [&](const char* key) { return db.get_setting(key).value_or(""); };
    if (auto p = setting("dmarc_policy"); !p.empty()) in.dmarc_policy = p;
    in.dmarc_rua = setting("dmarc_rua");
    if (in.dmarc_rua.empty()) in.dmarc_rua = setting("postmaster");
    in.tlsrpt_rua = setting("tlsrpt_rua");
    if (in.tlsrpt_rua.empty()) in.tlsrpt_rua = in.dmarc_rua;
    if (auto m = setting("mta_sts_mode"); !m.empty()) in.mta_sts_mode = m;
    return in;
}

std::vector<dns_record> expected_records(config::config_db& db, std::string_view domain) {
    return generate_records(load_zone_inputs(db, domain));
}

std::vector<dns_record> ptr_records(const std::vector<host_ip>& ips, std::uint32_t ttl) {
    std::vector<dns_record> out;
    for (const auto& ip : ips)
        out.push_back(rec(reverse_name(ip.address), "PTR", ttl, ip.hostname + ".", true,
                          "reverse DNS of " + ip.address + " (set by the IP's owner)"));
    return out;
}

std::vector<dns_record> expected_ptr_records(config::config_db& db) {
    std::vector<host_ip> ips;
    for (const auto& r : config::list_ips(db))
        ips.push_back(host_ip{r.address, r.family, r.hostname, !r.pool.empty(), r.mx_preference});
    return ptr_records(ips);
}

std::string render_zone_line(std::string_view origin, const dns_record& r) {
    std::string value = r.value;
    if (r.type == "TXT") {
        value.clear();
        for (const auto& part : split_txt(r.value)) value += (value.empty() ? "" : " ") + txt_quote(part);
    }
    std::string name = owner(r.name, origin);
    if (name.size() < 24) name.resize(24, ' ');
    std::string type = r.type;
    if (type.size() < 6) type.resize(6, ' ');
    return name + " " + std::to_string(r.ttl) + " IN " + type + value;
}

std::string render_zone(std::string_view origin, const std::vector<dns_record>& records,
                        std::uint32_t default_ttl) {
    std::string z = "; " + std::string(origin) +
                    ": records for the registrar, generated by Cartero.\n"
                    "; No SOA or NS records: those belong to the zone at the registrar.\n"
                    "$ORIGIN " + std::string(origin) + ".\n$TTL " + std::to_string(default_ttl) +
                    "\n";
    std::string last_purpose;
    for (const auto& r : records) {
        if (r.purpose != last_purpose) {
            z += "\n; " + r.purpose + (r.required ? "" : " [recommended]") + "\n";
            last_purpose = r.purpose;
        }
        z += render_zone_line(origin, r) + "\n";
    }
    return z;
}

std::string render_json(const std::vector<dns_record>& records) {
    auto arr = nlohmann::ordered_json::array();
    for (const auto& r : records) {
        nlohmann::ordered_json j;
        j["name"] = r.name;
        j["type"] = r.type;
        j["ttl"] = r.ttl;
        j["value"] = r.value;
        if (r.type == "TXT") j["strings"] = split_txt(r.value);
        j["required"] = r.required;
        j["purpose"] = r.purpose;
        arr.push_back(std::move(j));
    }
    return arr.dump(2) + "\n";
}

std::string render_csv(const std::vector<dns_record>& records) {
    std::string out = "name,type,ttl,value,required,purpose\r\n";
    for (const auto& r : records)
        out += csv_field(r.name) + "," + r.type + "," + std::to_string(r.ttl) + "," +
               csv_field(r.value) + "," + (r.required ? "yes" : "no") + "," +
               csv_field(r.purpose) + "\r\n";
    return out;
}

std::string render_ptr_requests(const std::vector<host_ip>& ips, std::string_view customer) {
    std::string out = "Reverse DNS (PTR) requests";
    if (!customer.empty()) out += " for customer " + std::string(customer);
    out += "\n\nSend each paragraph to whoever owns the address (hosting provider or ISP).\n"
           "Mail receivers check that an address's PTR name resolves back to the same address\n"
           "(forward-confirmed reverse DNS); the forward records are in the domain's zone file.\n";
    for (const auto& ip : ips)
        out += "\nPlease set the reverse DNS (PTR) of " + ip.address + " to " + ip.hostname +
               ".\n  Record: " + reverse_name(ip.address) + ". PTR " + ip.hostname +
               ".\n  The name " + ip.hostname + " resolves to " + ip.address +
               (ip.family == 6 ? " (AAAA record)" : " (A record)") + ".\n";
    return out;
}

} // namespace cartero::dns
