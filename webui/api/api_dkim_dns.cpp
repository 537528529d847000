// webui/api/api_dkim_dns.cpp — DKIM keys (core/dkim_store) and DNS: expected records
// (core/dns_records), the zone file, and published-vs-expected (core/dns_check).
#include "core/address_norm.hpp"
#include "core/dkim_store.hpp"
#include "core/dns_check.hpp"
#include "core/dns_records.hpp"
#include "core/sending_store.hpp"
#include "webui/api/api.hpp"

#include <ctime>

namespace cartero::webui {

namespace {

dkim::key_algorithm algorithm_of(const std::string& column) {
    return column == "ed25519-sha256" ? dkim::key_algorithm::ed25519 : dkim::key_algorithm::rsa;
}

json dkim_json(const config::dkim_key_row& k) {
    return json{{"domain", k.domain},
                {"selector", k.selector},
                {"algorithm", k.algorithm},
                {"public_key", k.public_key},
                {"active", k.active},
                {"created_at", k.created_at},
                {"record", json{{"name", k.selector + "._domainkey." + k.domain},
                                {"type", "TXT"},
                                {"value", dkim::dns_record_value(algorithm_of(k.algorithm),
                                                                 k.public_key)}}}};
}

// As carteroctl: "cartero" + yyyymm (UTC), "e" for Ed25519.
std::string default_selector(dkim::key_algorithm alg) {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::snprintf(buf, sizeof buf, "cartero%04d%02d%s", tm.tm_year + 1900, tm.tm_mon + 1,
                  alg == dkim::key_algorithm::ed25519 ? "e" : "");
    return buf;
}

std::string domain_param(const std::string& raw) {
    auto d = names::normalize_domain(raw);
    if (!d) throw api_error(404, "no domain " + raw.substr(0, 253), "domain");
    return d.value;
}

http_response list_dkim(api_call& c) {
    auto q = c.req.query_params();
    auto domain = q.count("domain") ? q["domain"] : std::string();
    auto rows = with_field("domain", [&] { return config::list_dkim_keys(c.db, domain); });
    json items = json::array();
    for (const auto& k : rows) items.push_back(dkim_json(k));
    return json_response(200, json{{"items", items}});
}

std::optional<config::dkim_key_row> find_key(api_call& c, const std::string& domain,
                                             const std::string& selector) {
    std::vector<config::dkim_key_row> rows;
    try {
        rows = config::list_dkim_keys(c.db, domain);
    } catch (const config::config_error&) {
        return std::nullopt;
    }
    for (const auto& k : rows)
        if (k.selector == names::ascii_lower(selector)) return k;
    return std::nullopt;
}

http_response generate_dkim(api_call& c) {
    body_reader b(c.body());
    auto domain = b.required_string("domain", 253);
    auto selector = b.string("selector", 63);
    auto algorithm = b.string("algorithm", 16).value_or("rsa");
    b.finish();
    if (algorithm != "rsa" && algorithm != "ed25519")
        throw api_error(422, "algorithm must be rsa or ed25519", "algorithm");
    const auto alg = algorithm == "ed25519" ? dkim::key_algorithm::ed25519 : dkim::key_algorithm::rsa;
    const auto sel = selector && !selector->empty() ? *selector : default_selector(alg);
    try {
        auto k = config::generate_dkim_key(c.db, c.cfg.state_dir, domain, sel, alg);
        return json_response(201, dkim_json(k));
    } catch (const config::config_error& e) {
        const std::string what = e.what();
        rethrow_config_error(e, what.find("selector") != std::string::npos ? "selector" : "domain", 422);
    }
}

http_response patch_dkim(api_call& c) {
    const auto domain = domain_param(c.params[0]);
    body_reader b(c.body());
    auto active = b.boolean("active");
    b.finish();
    if (!active) throw api_error(400, "active is required", "active");
    with_field("selector", [&] { config::set_dkim_key_active(c.db, domain, c.params[1], *active); });
    auto k = find_key(c, domain, c.params[1]);
    if (!k) throw api_error(404, "no such DKIM key", "selector");
    return json_response(200, dkim_json(*k));
}

http_response remove_dkim(api_call& c) {
    const auto domain = domain_param(c.params[0]);
    with_field("selector", [&] { config::remove_dkim_key(c.db, domain, c.params[1]); });
    return no_content();
}

json record_json(const dns::dns_record& r) {
    return json{{"name", r.name},     {"type", r.type},         {"ttl", r.ttl},
                {"value", r.value},   {"required", r.required}, {"purpose", r.purpose}};
}

http_response dns_records(api_call& c) {
    const auto domain = domain_param(c.params[0]);
    auto records = with_field("domain", [&] { return dns::expected_records(c.db, domain); });
    json items = json::array();
    for (const auto& r : records) items.push_back(record_json(r));
    return json_response(200, json{{"domain", domain}, {"records", items}});
}

http_response dns_zone(api_call& c) {
    const auto domain = domain_param(c.params[0]);
    auto in = with_field("domain", [&] { return dns::load_zone_inputs(c.db, domain); });
    http_response r;
    r.content_type = "text/plain; charset=utf-8";
    r.body = dns::render_zone(domain, dns::generate_records(in), in.ttl);
    r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + domain + ".zone\"");
    return r;
}

http_response dns_check(api_call& c) {
    const auto domain = domain_param(c.params[0]);
    auto records = with_field("domain", [&] { return dns::expected_records(c.db, domain); });
    dns::resolver_settings settings;
    settings.forward_to = c.cfg.resolver;
    settings.timeout = std::chrono::milliseconds(3000);
    auto res = dns::make_resolver(settings);
    int ok = 0, problems = 0, warnings = 0;
    json items = json::array();
    for (const auto& r : records) {
        auto v = dns::check_record(*res, r);
        if (v.state == "ok") ++ok;
        else if (r.required) ++problems;
        else ++warnings;
        auto j = record_json(r);
        j["state"] = v.state;
        j["found"] = v.found;
        items.push_back(std::move(j));
    }
    for (const auto& ip : config::list_ips(c.db)) {
        if (!(ip.hostname == domain || ip.hostname.ends_with("." + domain))) continue;
        auto v = dns::check_ptr(*res, ip.address, ip.family, ip.hostname);
        dns::dns_record ptr{dns::reverse_name(ip.address), "PTR", 3600, ip.hostname + ".", true,
                            "reverse DNS of " + ip.address + " (set by the IP's owner)"};
        if (v.state == "ok") ++ok;
        else ++problems;
        auto j = record_json(ptr);
        j["state"] = v.state;
        j["found"] = v.found;
        items.push_back(std::move(j));
    }
    return json_response(200, json{{"domain", domain},
                                   {"records", items},
                                   {"ok", ok},
                                   {"problems", problems},
                                   {"warnings", warnings}});
}

http_response dns_ptr(api_call& c) {
    json items = json::array();
    for (const auto& r : dns::expected_ptr_records(c.db)) items.push_back(record_json(r));
    return json_response(200, json{{"items", items}});
}

} // namespace

void add_dkim_dns_routes(std::vector<route>& r) {
    r.push_back({"GET", "/api/v1/dkim", &list_dkim});
    r.push_back({"POST", "/api/v1/dkim", &generate_dkim});
    r.push_back({"PATCH", "/api/v1/dkim/{}/{}", &patch_dkim});
    r.push_back({"DELETE", "/api/v1/dkim/{}/{}", &remove_dkim});
    r.push_back({"GET", "/api/v1/dns/{}", &dns_records});
    r.push_back({"GET", "/api/v1/dns/{}/zone", &dns_zone});
    r.push_back({"GET", "/api/v1/dns/{}/check", &dns_check});
    r.push_back({"GET", "/api/v1/dns-ptr", &dns_ptr});
}

} // namespace cartero::webui
