// provisioning/spec.cpp — customer spec parsing (yaml-cpp) and whole-spec validation: every
// error is collected with its field path, so an operator fixes them all in one pass.
#include "provisioning/spec.hpp"

#include "core/address_norm.hpp"
#include "core/sending_store.hpp"
#include "core/size_parse.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace cartero::provision {
namespace {

// Error text without the quotes that names::/config:: put around the input they echo.
std::string show(std::string_view s) {
    std::string q = quoted(s, 80);
    return q.substr(1, q.size() - 2);
}

struct field {
    std::string path;
    YAML::Node node;
    int line; // 1-based; 0 = unknown
};

class checker {
public:
    std::vector<std::string> errors;

    void error(const field& f, const std::string& what) {
        std::string e = (f.path.empty() ? std::string("spec") : f.path) + ": " + what;
        if (f.line > 0) e += " (line " + std::to_string(f.line) + ")";
        errors.push_back(std::move(e));
    }

    static int line_of(const YAML::Node& n, int fallback) {
        if (!n.IsDefined()) return fallback;
        int l = n.Mark().line;
        return l >= 0 ? l + 1 : fallback;
    }

    static std::string join(const std::string& path, const std::string& key) {
        return path.empty() ? key : path + "." + key;
    }

    // A mapping with only `known` keys (each once). Returns false (error given) otherwise.
    bool mapping(const field& f, std::initializer_list<const char*> known) {
        if (!f.node.IsMap()) {
            error(f, "must be a mapping of " + list(known));
            return false;
        }
        std::set<std::string> seen;
        for (const auto& kv : f.node) {
            std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string("?");
            field k{join(f.path, key), kv.first, line_of(kv.first, f.line)};
            if (std::find_if(known.begin(), known.end(), [&](const char* s) { return key == s; }) ==
                known.end())
                error(k, "unknown key (known keys here: " + list(known) + ")");
            else if (!seen.insert(key).second)
                error(k, "given twice");
        }
        return true;
    }

    field child(const field& f, const char* key) {
        YAML::Node n;
        for (const auto& kv : f.node)
            if (kv.first.IsScalar() && kv.first.Scalar() == key) n = kv.second;
        return field{join(f.path, key), n, line_of(n, f.line)};
    }

    static bool present(const field& f) { return f.node.IsDefined() && !f.node.IsNull(); }

    // A scalar's text, or nullopt (error given when `required` or when it is not a scalar).
    std::optional<std::string> scalar(const field& f, bool required) {
        if (!present(f)) {
            if (required) error(f, "is required");
            return std::nullopt;
        }
        if (!f.node.IsScalar()) {
            error(f, "must be a single value, not a list or mapping");
            return std::nullopt;
        }
        return f.node.Scalar();
    }

    // The items of a sequence (a missing or empty one is fine unless `required`).
    std::vector<field> sequence(const field& f, bool required) {
        std::vector<field> out;
        if (!present(f)) {
            if (required) error(f, "is required (a list)");
            return out;
        }
        if (!f.node.IsSequence()) {
            error(f, "must be a list");
            return out;
        }
        std::size_t i = 0;
        for (const auto& item : f.node) {
            out.push_back(field{f.path + "[" + std::to_string(i) + "]", item, line_of(item, f.line)});
            ++i;
        }
        if (out.empty() && required) error(f, "must not be empty");
        return out;
    }

private:
    static std::string list(std::initializer_list<const char*> keys) {
        std::string s;
        for (const char* k : keys) s += (s.empty() ? "" : ", ") + std::string(k);
        return s;
    }
};

std::optional<std::string> domain_of(checker& c, const field& f, bool required) {
    auto v = c.scalar(f, required);
    if (!v) return std::nullopt;
    auto d = names::normalize_domain(*v);
    if (!d) {
        c.error(f, d.error);
        return std::nullopt;
    }
    return d.value;
}

std::optional<std::string> address_of(checker& c, const field& f, bool required) {
    auto v = c.scalar(f, required);
    if (!v) return std::nullopt;
    auto a = names::normalize_address(*v);
    if (!a) {
        c.error(f, a.error);
        return std::nullopt;
    }
    return a.value;
}

std::string domain_part(const std::string& address) {
    return address.substr(address.rfind('@') + 1);
}

bool is_selector(const std::string& s) {
    // RFC 6376 §3.1 selectors are DNS labels; config.db keeps them lower-case [a-z0-9-].
    return !s.empty() && s.size() <= 63 && s.front() != '-' && s.back() != '-' &&
           std::all_of(s.begin(), s.end(),
                       [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'; });
}

bool is_pool(const std::string& s) {
    return !s.empty() && s.size() <= 63 &&
           std::all_of(s.begin(), s.end(), [](char ch) {
               return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
           });
}

bool is_customer_id(const std::string& s) {
    return !s.empty() && s.size() <= 63 && s.front() != '-' &&
           std::all_of(s.begin(), s.end(), [](char ch) {
               return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
           });
}

bool under(const std::string& name, const std::string& domain) {
    return name.size() > domain.size() && name.ends_with(domain) &&
           name[name.size() - domain.size() - 1] == '.';
}

// "host:port", "[v6]:port", "host" (port 25).
std::optional<spec_smarthost> parse_smarthost(checker& c, const field& f) {
    auto v = c.scalar(f, false);
    if (!v) return std::nullopt;
    std::string host = *v, port = "25";
    if (!host.empty() && host.front() == '[') {
        auto close = host.find(']');
        if (close == std::string::npos) {
            c.error(f, show(*v) + " has '[' without ']' (write [2001:db8::1]:25)");
            return std::nullopt;
        }
        std::string rest = host.substr(close + 1);
        host = host.substr(1, close - 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                c.error(f, show(*v) + " is not HOST:PORT");
                return std::nullopt;
            }
            port = rest.substr(1);
        }
        auto ip = config::parse_ip(host);
        if (!ip || ip.value.family != 6) {
            c.error(f, show(host) + " is not an IPv6 address");
            return std::nullopt;
        }
        host = ip.value.text;
    } else {
        if (std::count(host.begin(), host.end(), ':') > 1) {
            c.error(f, show(*v) + ": write an IPv6 smarthost in brackets, [2001:db8::1]:25");
            return std::nullopt;
        }
        if (auto colon = host.find(':'); colon != std::string::npos) {
            port = host.substr(colon + 1);
            host = host.substr(0, colon);
        }
        bool digits_and_dots = !host.empty() && host.find_first_not_of("0123456789.") == std::string::npos;
        if (digits_and_dots) {
            auto ip = config::parse_ip(host);
            if (!ip) {
                c.error(f, ip.error);
                return std::nullopt;
            }
            host = ip.value.text;
        } else {
            auto d = names::normalize_domain(host);
            if (!d) {
                c.error(f, "host " + show(host) + ": " + d.error);
                return std::nullopt;
            }
            host = d.value;
        }
    }
    bool port_ok = !port.empty() && port.size() <= 5 &&
                   port.find_first_not_of("0123456789") == std::string::npos &&
                   std::stoul(port) >= 1 && std::stoul(port) <= 65535;
    if (!port_ok) {
        c.error(f, "port " + show(port) + " is not a number from 1 to 65535");
        return std::nullopt;
    }
    return spec_smarthost{host, static_cast<std::uint16_t>(std::stoul(port))};
}

void validate(checker& c, const YAML::Node& root, customer_spec& s) {
    field top{"", root, 1};
    if (!root.IsDefined() || root.IsNull()) {
        c.error(top, "the spec is empty");
        return;
    }
    if (!c.mapping(top, {"version", "customer", "domains", "admin_email", "postmaster",
                         "hostnames", "ips", "dmarc", "tls_rpt", "dkim", "mailboxes",
                         "forwarders", "smarthost"}))
        return;

    if (auto v = c.scalar(c.child(top, "version"), false); v && *v != "1")
        c.error(c.child(top, "version"), show(*v) + " is not a spec version this carteroctl reads (1)");

    field cust = c.child(top, "customer");
    if (auto v = c.scalar(cust, true)) {
        if (is_customer_id(*v)) s.customer = *v;
        else c.error(cust, show(*v) + " is not 1-63 lower-case letters, digits, '-' or '_'");
    }

    // Domains.
    std::set<std::string> domains;
    field doms = c.child(top, "domains");
    if (!checker::present(doms)) {
        c.error(doms, "is required (a mapping with primary and extra)");
    } else if (c.mapping(doms, {"primary", "extra"})) {
        if (auto d = domain_of(c, c.child(doms, "primary"), true)) {
            s.primary_domain = *d;
            domains.insert(*d);
        }
        for (const auto& item : c.sequence(c.child(doms, "extra"), false)) {
            auto d = domain_of(c, item, true);
            if (!d) continue;
            if (!domains.insert(*d).second) c.error(item, *d + " is listed twice");
            else s.extra_domains.push_back(*d);
        }
    }

    // Admin and report addresses.
    if (auto a = address_of(c, c.child(top, "admin_email"), true)) s.admin_email = *a;
    if (auto a = address_of(c, c.child(top, "postmaster"), false)) s.postmaster = *a;
    else s.postmaster = s.admin_email;

    field dmarc = c.child(top, "dmarc");
    s.dmarc_rua = s.admin_email;
    if (checker::present(dmarc) && c.mapping(dmarc, {"policy", "rua"})) {
        field p = c.child(dmarc, "policy");
        if (auto v = c.scalar(p, false)) {
            if (*v == "none" || *v == "quarantine" || *v == "reject") s.dmarc_policy = *v;
            else c.error(p, show(*v) + " is not none, quarantine or reject");
        }
        if (auto a = address_of(c, c.child(dmarc, "rua"), false)) s.dmarc_rua = *a;
    }
    field tlsrpt = c.child(top, "tls_rpt");
    s.tlsrpt_rua = s.dmarc_rua;
    if (checker::present(tlsrpt) && c.mapping(tlsrpt, {"rua"}))
        if (auto a = address_of(c, c.child(tlsrpt, "rua"), false)) s.tlsrpt_rua = *a;

    // Host names.
    std::map<std::string, std::size_t> host_index;
    std::vector<field> host_fields;
    for (const auto& item : c.sequence(c.child(top, "hostnames"), true)) {
        if (!c.mapping(item, {"name", "mx_preference"})) continue;
        field nf = c.child(item, "name");
        auto name = domain_of(c, nf, true);
        if (!name) continue;
        spec_hostname h{*name, std::nullopt};
        field pf = c.child(item, "mx_preference");
        if (auto v = c.scalar(pf, false)) {
            bool ok = !v->empty() && v->size() <= 5 &&
                      v->find_first_not_of("0123456789") == std::string::npos &&
                      std::stoul(*v) <= 65535;
            if (ok) h.mx_preference = static_cast<std::uint16_t>(std::stoul(*v));
            else c.error(pf, show(*v) + " is not a number from 0 to 65535");
        }
        if (host_index.contains(h.name)) {
            c.error(nf, h.name + " is listed twice");
            continue;
        }
        if (domains.contains(h.name)) {
            c.error(nf, h.name + " is also a mail domain; give the server its own name (mx1." +
                            h.name + ")");
            continue;
        }
        if (!domains.empty() &&
            std::none_of(domains.begin(), domains.end(), [&](const std::string& d) { return under(h.name, d); }))
            c.error(nf, h.name + " is not under any of the spec's domains, so no generated zone "
                             "could hold its A/AAAA records");
        host_index[h.name] = s.hostnames.size();
        s.hostnames.push_back(h);
        host_fields.push_back(nf);
    }

    // IPs.
    std::set<std::string> addresses;
    std::vector<bool> host_has_ip(s.hostnames.size(), false);
    for (const auto& item : c.sequence(c.child(top, "ips"), true)) {
        if (!c.mapping(item, {"address", "hostname", "pool"})) continue;
        spec_ip ip;
        bool ok = true;
        field af = c.child(item, "address");
        if (auto v = c.scalar(af, true)) {
            auto p = config::parse_ip(*v);
            if (!p) {
                c.error(af, p.error);
                ok = false;
            } else if (!addresses.insert(p.value.text).second) {
                c.error(af, p.value.text + " is listed twice");
                ok = false;
            } else {
                ip.address = p.value.text;
                ip.family = p.value.family;
            }
        } else {
            ok = false;
        }
        field hf = c.child(item, "hostname");
        if (auto h = domain_of(c, hf, true)) {
            auto it = host_index.find(*h);
            if (it == host_index.end()) {
                c.error(hf, *h + " is not one of the names under hostnames");
                ok = false;
            } else {
                ip.hostname = *h;
                host_has_ip[it->second] = true;
            }
        } else {
            ok = false;
        }
        field pf = c.child(item, "pool");
        if (auto v = c.scalar(pf, false)) {
            std::string p = names::ascii_lower(*v);
            if (is_pool(p)) ip.pool = p;
            else {
                c.error(pf, show(*v) + " is not 1-63 letters, digits, '-' or '_'");
                ok = false;
            }
        }
        if (ok) s.ips.push_back(ip);
    }
    for (std::size_t i = 0; i < s.hostnames.size(); ++i)
        if (!host_has_ip[i])
            c.error(host_fields[i], s.hostnames[i].name +
                                        " has no address: list one under ips with hostname: " +
                                        s.hostnames[i].name);

    // DKIM.
    field dk = c.child(top, "dkim");
    if (checker::present(dk)) {
        std::set<std::string> selectors;
        for (const auto& item : c.sequence(dk, true)) {
            if (!c.mapping(item, {"selector", "algorithm"})) continue;
            spec_dkim k{"", "rsa"};
            field sf = c.child(item, "selector");
            auto sel = c.scalar(sf, true);
            if (sel) {
                std::string l = names::ascii_lower(*sel);
                if (!is_selector(l)) {
                    c.error(sf, show(*sel) + " is not a DKIM selector (1-63 letters, digits or "
                                             "'-', not at either end; RFC 6376 §3.1)");
                    sel.reset();
                } else if (!selectors.insert(l).second) {
                    c.error(sf, l + " is listed twice");
                    sel.reset();
                } else {
                    k.selector = l;
                }
            }
            field alg = c.child(item, "algorithm");
            if (auto a = c.scalar(alg, false)) {
                if (*a == "rsa" || *a == "ed25519") k.algorithm = *a;
                else {
                    c.error(alg, show(*a) + " is not rsa or ed25519");
                    sel.reset();
                }
            }
            if (sel) s.dkim.push_back(k);
        }
    } else {
        s.dkim.push_back({"cartero", "rsa"});
    }

    // Mailboxes.
    std::set<std::string> mailbox_set;
    for (const auto& item : c.sequence(c.child(top, "mailboxes"), false)) {
        if (!c.mapping(item, {"address", "quota"})) continue;
        field af = c.child(item, "address");
        auto a = address_of(c, af, true);
        spec_mailbox m;
        bool ok = a.has_value();
        if (a) {
            m.address = *a;
            if (!domains.empty() && !domains.contains(domain_part(*a))) {
                c.error(af, *a + " is not in one of the spec's domains");
                ok = false;
            } else if (!mailbox_set.insert(*a).second) {
                c.error(af, *a + " is listed twice");
                ok = false;
            }
        }
        field qf = c.child(item, "quota");
        if (auto q = c.scalar(qf, false)) {
            auto size = units::parse_size(*q);
            if (!size) {
                c.error(qf, size.error);
                ok = false;
            } else {
                m.quota_bytes = size.value;
            }
        }
        if (ok) s.mailboxes.push_back(m);
    }

    // Forwarders.
    std::set<std::string> sources;
    for (const auto& item : c.sequence(c.child(top, "forwarders"), false)) {
        if (!c.mapping(item, {"source", "to"})) continue;
        spec_forwarder fw;
        bool ok = true;
        field sf = c.child(item, "source");
        if (auto v = c.scalar(sf, true)) {
            std::string dom;
            if (!v->empty() && v->front() == '@') {
                auto d = names::normalize_domain(v->substr(1));
                if (!d) {
                    c.error(sf, d.error);
                    ok = false;
                } else {
                    fw.source = "@" + d.value;
                    dom = d.value;
                }
            } else {
                auto a = names::normalize_address(*v);
                if (!a) {
                    c.error(sf, a.error);
                    ok = false;
                } else {
                    fw.source = a.value;
                    dom = domain_part(a.value);
                }
            }
            if (ok && !domains.empty() && !domains.contains(dom)) {
                c.error(sf, fw.source + " is not in one of the spec's domains");
                ok = false;
            } else if (ok && mailbox_set.contains(fw.source)) {
                c.error(sf, fw.source + " is also a mailbox; an address is one or the other");
                ok = false;
            } else if (ok && !sources.insert(fw.source).second) {
                c.error(sf, fw.source + " is listed twice");
                ok = false;
            }
        } else {
            ok = false;
        }
        auto dests = c.sequence(c.child(item, "to"), true);
        if (dests.empty()) ok = false;
        for (const auto& d : dests) {
            auto a = address_of(c, d, true);
            if (!a) ok = false;
            else if (*a == fw.source) {
                c.error(d, *a + " forwards to itself");
                ok = false;
            } else if (std::find(fw.to.begin(), fw.to.end(), *a) == fw.to.end()) {
                fw.to.push_back(*a);
            }
        }
        if (ok) s.forwarders.push_back(fw);
    }

    s.smarthost = parse_smarthost(c, c.child(top, "smarthost"));

    // Whole-spec rules, once the parts are known good.
    if (c.errors.empty()) {
        bool any_mx = std::any_of(s.hostnames.begin(), s.hostnames.end(),
                                  [](const spec_hostname& h) { return h.mx_preference.has_value(); });
        bool any_out = std::any_of(s.ips.begin(), s.ips.end(),
                                   [](const spec_ip& ip) { return !ip.pool.empty(); });
        if (!any_mx && (!s.mailboxes.empty() || !s.forwarders.empty()))
            c.error(c.child(top, "hostnames"),
                    "no host name has an mx_preference, so mail for the listed mailboxes and "
                    "forwarders could not arrive");
        if (!any_out && !s.smarthost)
            c.error(c.child(top, "ips"), "no address has a pool and there is no smarthost, so "
                                         "nothing could send mail");
    }
}

} // namespace

std::vector<std::string> customer_spec::domains() const {
    std::vector<std::string> out{primary_domain};
    out.insert(out.end(), extra_domains.begin(), extra_domains.end());
    return out;
}

std::string customer_spec::server_hostname() const {
    const spec_hostname* best = nullptr;
    for (const auto& h : hostnames)
        if (h.mx_preference && (!best || *h.mx_preference < *best->mx_preference)) best = &h;
    if (best) return best->name;
    return hostnames.empty() ? std::string() : hostnames.front().name;
}

spec_result parse_spec(std::string_view yaml_text) {
    spec_result r;
    checker c;
    YAML::Node root;
    try {
        root = YAML::Load(std::string(yaml_text));
    } catch (const YAML::Exception& e) {
        r.errors.push_back("spec: not valid YAML: " + e.msg + " (line " +
                           std::to_string(e.mark.line + 1) + ")");
        return r;
    }
    try {
        validate(c, root, r.spec);
    } catch (const YAML::Exception& e) {
        c.errors.push_back("spec: " + e.msg + " (line " + std::to_string(e.mark.line + 1) + ")");
    }
    r.errors = std::move(c.errors);
    return r;
}

spec_result load_spec(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        spec_result r;
        r.errors.push_back(path + ": cannot read the spec file");
        return r;
    }
    std::ostringstream text;
    text << in.rdbuf();
    return parse_spec(text.str());
}

} // namespace cartero::provision
