// webui/api/api_filters.cpp — autoresponders (core/autoreply_store), spam settings, rules,
// allow/block lists and DNSBL zones (core/filter_store), and the reputation view (each own IP
// against the enabled DNSBL zones, PTR forward-confirmed).
#include "core/address_norm.hpp"
#include "core/autoreply_store.hpp"
#include "core/dns/resolver.hpp"
#include "core/dns_check.hpp"
#include "core/filter_store.hpp"
#include "core/sending_store.hpp"
#include "webui/api/api.hpp"

#include <arpa/inet.h>

namespace cartero::webui {

namespace {

using namespace cartero::config;

// A word a store's refusal mentions, and the request field it is about.
struct field_hint {
    const char* word;
    const char* field;
};

// The field of the first hint whose word the refusal mentions, else `fallback`.
const char* field_in(const std::string& what, std::initializer_list<field_hint> hints,
                     const char* fallback) {
    for (const auto& h : hints)
        if (what.find(h.word) != std::string::npos) return h.field;
    return fallback;
}

template <class F>
auto store_call(std::initializer_list<field_hint> fields, const char* fallback, F&& fn,
                int not_found_status = 404) -> decltype(fn()) {
    try {
        return fn();
    } catch (const config_error& e) {
        rethrow_config_error(e, field_in(e.what(), fields, fallback), not_found_status);
    }
}

json opt_json(const auto& v) { return v ? json(*v) : json(nullptr); }

// Autoresponders.

json autoreply_json(const autoreply_row& r, std::int64_t now) {
    return json{{"mailbox", r.mailbox},       {"enabled", r.enabled},
                {"subject", r.subject},       {"body_text", r.body_text},
                {"body_html", opt_json(r.body_html)}, {"start_at", opt_json(r.start_at)},
                {"end_at", opt_json(r.end_at)},       {"interval_days", r.interval_days},
                {"updated_at", r.updated_at}, {"active_now", r.active_at(now)}};
}

std::string mailbox_param(const std::string& raw) {
    auto n = names::normalize_address(raw);
    if (!n) throw api_error(404, "no mailbox " + raw.substr(0, 320), "mailbox");
    return n.value;
}

// "start_at"/"end_at": null, Unix seconds, or a date/time string (core's parse_when, UTC).
std::optional<std::int64_t> when_field(body_reader& b, const char* name, bool end_of_day) {
    auto v = b.raw(name);
    if (!v || v->is_null()) return std::nullopt;
    if (v->is_number_integer()) return v->get<std::int64_t>();
    if (!v->is_string()) throw api_error(400, std::string(name) + " must be a date, a time or null", name);
    auto w = parse_when(v->get<std::string>(), end_of_day);
    if (!w) throw api_error(422, std::string(name) + ": " + w.error, name);
    return w.value;
}

http_response list_autoreplies_h(api_call& c) {
    json items = json::array();
    for (const auto& r : list_autoreplies(c.db)) items.push_back(autoreply_json(r, c.cfg.now()));
    return json_response(200, json{{"items", items}});
}

http_response get_autoreply_h(api_call& c) {
    auto r = get_autoreply(c.db, mailbox_param(c.params[0]));
    if (!r) throw api_error(404, "no autoresponder for " + c.params[0].substr(0, 320), "mailbox");
    return json_response(200, autoreply_json(*r, c.cfg.now()));
}

http_response put_autoreply_h(api_call& c) {
    autoreply_row row;
    row.mailbox = mailbox_param(c.params[0]);
    body_reader b(c.body());
    row.enabled = b.boolean("enabled").value_or(true);
    row.subject = b.string("subject", 900).value_or("");
    auto body = b.raw("body_text");
    if (!body || !body->is_string()) throw api_error(400, "body_text is required (a string)", "body_text");
    row.body_text = body->get<std::string>();
    auto html = b.raw("body_html");
    if (html && !html->is_null()) {
        if (!html->is_string()) throw api_error(400, "body_html must be a string or null", "body_html");
        row.body_html = html->get<std::string>();
    }
    row.start_at = when_field(b, "start_at", false);
    row.end_at = when_field(b, "end_at", true);
    row.interval_days = static_cast<int>(b.integer("interval_days", 1, 365).value_or(7));
    b.finish();
    if (auto why = validate_autoreply(row); !why.empty())
        throw api_error(422, why, field_in(why, {{"subject", "subject"}, {"HTML", "body_html"}, {"html", "body_html"},
                                 {"interval", "interval_days"}, {"start", "start_at"},
                                 {"end", "end_at"}}, "body_text"));
    auto stored = store_call({}, "mailbox", [&] { return set_autoreply(c.db, row); });
    return json_response(200, autoreply_json(stored, c.cfg.now()));
}

http_response delete_autoreply_h(api_call& c) {
    store_call({}, "mailbox", [&] { clear_autoreply(c.db, mailbox_param(c.params[0])); });
    return no_content();
}

// Spam settings.

json settings_json(const spam_settings_row& r) {
    return json{{"domain", r.domain},
                {"enabled", opt_json(r.enabled)},
                {"tag_threshold", opt_json(r.tag_threshold)},
                {"junk_threshold", opt_json(r.junk_threshold)},
                {"reject_threshold", opt_json(r.reject_threshold)},
                {"dmarc_reject_action", opt_json(r.dmarc_reject_action)},
                {"dmarc_quarantine_action", opt_json(r.dmarc_quarantine_action)}};
}

json effective_json(const spam_settings_effective& e) {
    return json{{"enabled", e.enabled},
                {"tag_threshold", e.tag_threshold},
                {"junk_threshold", e.junk_threshold},
                {"reject_threshold", e.reject_threshold},
                {"dmarc_reject_action", e.dmarc_reject_action},
                {"dmarc_quarantine_action", e.dmarc_quarantine_action}};
}

http_response get_spam_settings_h(api_call& c) {
    json items = json::array();
    for (const auto& r : list_spam_settings(c.db)) {
        auto j = settings_json(r);
        j["effective"] = effective_json(effective_spam_settings(c.db, r.domain));
        items.push_back(std::move(j));
    }
    return json_response(200, json{{"items", items},
                                   {"global_effective", effective_json(effective_spam_settings(c.db, ""))}});
}

std::optional<double> threshold(body_reader& b, const char* name) {
    auto v = b.raw(name);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_number()) throw api_error(400, std::string(name) + " must be a number or null", name);
    double d = v->get<double>();
    if (d < -1000 || d > 1000) throw api_error(422, std::string(name) + " must be from -1000 to 1000", name);
    return d;
}

std::optional<std::string> action(body_reader& b, const char* name) {
    auto s = b.string(name, 16);
    if (s && *s != "reject" && *s != "junk" && *s != "none")
        throw api_error(422, std::string(name) + " must be reject, junk or none", name);
    return s;
}

http_response put_spam_settings_for(api_call& c, const std::string& domain) {
    spam_settings_row row;
    row.domain = domain;
    body_reader b(c.body());
    row.enabled = b.boolean("enabled");
    row.tag_threshold = threshold(b, "tag_threshold");
    row.junk_threshold = threshold(b, "junk_threshold");
    row.reject_threshold = threshold(b, "reject_threshold");
    row.dmarc_reject_action = action(b, "dmarc_reject_action");
    row.dmarc_quarantine_action = action(b, "dmarc_quarantine_action");
    b.finish();
    store_call({{"tag", "tag_threshold"}, {"junk", "junk_threshold"}, {"reject", "reject_threshold"}},
               domain.empty() ? "" : "domain", [&] { set_spam_settings(c.db, row); });
    auto j = settings_json(get_spam_settings(c.db, domain));
    j["effective"] = effective_json(effective_spam_settings(c.db, domain));
    return json_response(200, j);
}

http_response put_global_spam_h(api_call& c) { return put_spam_settings_for(c, ""); }
http_response put_domain_spam_h(api_call& c) { return put_spam_settings_for(c, c.params[0]); }

// Rules.

json rule_json(const spam_rule_row& r) {
    return json{{"name", r.name},       {"target", r.target}, {"header_name", r.header_name},
                {"pattern", r.pattern}, {"score", r.score},   {"description", r.description},
                {"enabled", r.enabled}};
}

http_response list_rules_h(api_call& c) {
    json items = json::array();
    for (const auto& r : list_spam_rules(c.db)) items.push_back(rule_json(r));
    return json_response(200, json{{"items", items}});
}

http_response add_rule_h(api_call& c) {
    body_reader b(c.body());
    spam_rule_row row;
    row.name = b.required_string("name", 64);
    row.target = b.required_string("target", 16);
    row.header_name = b.string("header_name", 100).value_or("");
    row.pattern = b.required_string("pattern", max_pattern_bytes);
    auto score = b.raw("score");
    if (!score || !score->is_number()) throw api_error(400, "score is required (a number)", "score");
    row.score = score->get<double>();
    row.description = b.string("description", 200).value_or("");
    row.enabled = b.boolean("enabled").value_or(true);
    b.finish();
    if (row.target != "header" && row.target != "body")
        throw api_error(422, "target must be header or body", "target");
    if (row.score < -100 || row.score > 100) throw api_error(422, "score must be from -100 to 100", "score");
    if (auto p = check_rule_pattern(row.pattern); !p) throw api_error(422, p.error, "pattern");
    auto stored = store_call({{"header", "header_name"}, {"pattern", "pattern"}, {"score", "score"},
                              {"target", "target"}}, "name",
                             [&] { return add_spam_rule(c.db, row); });
    return json_response(201, rule_json(stored));
}

http_response remove_rule_h(api_call& c) {
    store_call({}, "name", [&] { remove_spam_rule(c.db, c.params[0]); });
    return no_content();
}

// Allow and block lists.

json list_entry_json(const spam_list_row& r) {
    return json{{"list", r.list},   {"direction", r.direction}, {"scope", r.scope},
                {"owner", r.owner}, {"entry", r.entry},         {"entry_kind", r.entry_kind}};
}

spam_list_row list_entry_body(api_call& c) {
    body_reader b(c.body());
    spam_list_row r;
    r.list = b.required_string("list", 16);
    r.direction = b.required_string("direction", 16);
    r.scope = b.string("scope", 16).value_or("global");
    r.owner = b.string("owner", 320).value_or("");
    r.entry = b.required_string("entry", 320);
    b.finish();
    if (r.list != "allow" && r.list != "block") throw api_error(422, "list must be allow or block", "list");
    if (r.direction != "sender" && r.direction != "recipient")
        throw api_error(422, "direction must be sender or recipient", "direction");
    if (r.scope != "global" && r.scope != "domain" && r.scope != "mailbox")
        throw api_error(422, "scope must be global, domain or mailbox", "scope");
    return r;
}

http_response list_lists_h(api_call& c) {
    auto q = c.req.query_params();
    json items = json::array();
    for (const auto& r : list_spam_list_entries(c.db, q.count("list") ? q["list"] : "",
                                                q.count("direction") ? q["direction"] : ""))
        items.push_back(list_entry_json(r));
    return json_response(200, json{{"items", items}});
}

http_response add_list_h(api_call& c) {
    auto row = list_entry_body(c);
    auto stored = store_call({{"owner", "owner"}}, "entry", [&] { return add_spam_list_entry(c.db, row); }, 422);
    return json_response(201, list_entry_json(stored));
}

http_response remove_list_h(api_call& c) {
    auto row = list_entry_body(c);
    store_call({{"owner", "owner"}}, "entry", [&] { remove_spam_list_entry(c.db, row); });
    return no_content();
}

// DNSBL / DNSWL zones.

json zone_json(const dnsbl_zone_row& z) {
    return json{{"zone", z.zone}, {"list", z.list}, {"weight", z.weight}, {"match", z.match},
                {"enabled", z.enabled}};
}

http_response list_zones_h(api_call& c) {
    json items = json::array();
    for (const auto& z : list_dnsbl_zones(c.db)) items.push_back(zone_json(z));
    return json_response(200, json{{"items", items}});
}

http_response add_zone_h(api_call& c) {
    body_reader b(c.body());
    dnsbl_zone_row z;
    z.zone = b.required_string("zone", 253);
    z.list = b.string("list", 16).value_or("block");
    if (auto w = b.raw("weight"); w && !w->is_null()) {
        if (!w->is_number()) throw api_error(400, "weight must be a number", "weight");
        z.weight = w->get<double>();
    } else if (z.list == "allow") {
        z.weight = -3.0;
    }
    z.match = b.string("match", 64).value_or("127.0.0.0/8");
    z.enabled = b.boolean("enabled").value_or(true);
    b.finish();
    if (z.list != "allow" && z.list != "block") throw api_error(422, "list must be allow or block", "list");
    auto stored = store_call({{"weight", "weight"}, {"match", "match"}}, "zone", [&] { return add_dnsbl_zone(c.db, z); });
    return json_response(201, zone_json(stored));
}

http_response remove_zone_h(api_call& c) {
    store_call({}, "zone", [&] { remove_dnsbl_zone(c.db, c.params[0]); });
    return no_content();
}

// Reputation: each own IP against the enabled "block" zones, and its PTR forward-confirmed.

bool in_cidr4(const std::string& ip, const std::string& cidr) {
    auto slash = cidr.find('/');
    const int bits = slash == std::string::npos ? 32 : std::atoi(cidr.c_str() + slash + 1);
    in_addr a{}, n{};
    if (inet_pton(AF_INET, ip.c_str(), &a) != 1 ||
        inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &n) != 1 || bits < 0 || bits > 32)
        return false;
    const std::uint32_t mask = bits == 0 ? 0 : ~std::uint32_t{0} << (32 - bits);
    return (ntohl(a.s_addr) & mask) == (ntohl(n.s_addr) & mask);
}

http_response reputation_h(api_call& c) {
    dns::resolver_settings settings;
    settings.forward_to = c.cfg.resolver;
    settings.timeout = std::chrono::milliseconds(3000);
    auto res = dns::make_resolver(settings);
    std::vector<dnsbl_zone_row> zones;
    for (const auto& z : list_dnsbl_zones(c.db))
        if (z.enabled && z.list == "block") zones.push_back(z);
    json items = json::array();
    for (const auto& ip : list_ips(c.db)) {
        auto ptr = dns::check_ptr(*res, ip.address, ip.family, ip.hostname);
        json listings = json::array();
        // RFC 5782 §2.1: the query name is the reversed address under the zone.
        auto rev = dns::reverse_name(ip.address);
        const auto base = rev.substr(0, rev.rfind(ip.family == 6 ? ".ip6.arpa" : ".in-addr.arpa"));
        for (const auto& z : zones) {
            auto a = res->lookup(base + "." + z.zone, dns::rr_type::a);
            std::string state = "not listed";
            std::string found;
            if (a.ok()) {
                for (const auto& r : a.records) {
                    found += (found.empty() ? "" : " ") + r;
                    if (in_cidr4(r, z.match)) state = "listed";
                }
            } else if (a.st != dns::status::nxdomain && a.st != dns::status::nodata) {
                state = "error";
                found = std::string(dns::to_string(a.st));
            }
            listings.push_back(json{{"zone", z.zone}, {"state", state}, {"answer", found}});
        }
        items.push_back(json{{"address", ip.address},
                             {"hostname", ip.hostname},
                             {"ptr", json{{"state", ptr.state}, {"found", ptr.found}}},
                             {"dnsbl", listings}});
    }
    return json_response(200, json{{"items", items}});
}

} // namespace

void add_filter_routes(std::vector<route>& r) {
    r.push_back({"GET", "/api/v1/autoresponders", &list_autoreplies_h});
    r.push_back({"GET", "/api/v1/autoresponders/{}", &get_autoreply_h});
    r.push_back({"PUT", "/api/v1/autoresponders/{}", &put_autoreply_h});
    r.push_back({"DELETE", "/api/v1/autoresponders/{}", &delete_autoreply_h});
    r.push_back({"GET", "/api/v1/spam/settings", &get_spam_settings_h});
    r.push_back({"PUT", "/api/v1/spam/settings", &put_global_spam_h});
    r.push_back({"PUT", "/api/v1/spam/settings/{}", &put_domain_spam_h});
    r.push_back({"GET", "/api/v1/spam/rules", &list_rules_h});
    r.push_back({"POST", "/api/v1/spam/rules", &add_rule_h});
    r.push_back({"DELETE", "/api/v1/spam/rules/{}", &remove_rule_h});
    r.push_back({"GET", "/api/v1/spam/lists", &list_lists_h});
    r.push_back({"POST", "/api/v1/spam/lists", &add_list_h});
    r.push_back({"DELETE", "/api/v1/spam/lists", &remove_list_h});
    r.push_back({"GET", "/api/v1/spam/dnsbl", &list_zones_h});
    r.push_back({"POST", "/api/v1/spam/dnsbl", &add_zone_h});
    r.push_back({"DELETE", "/api/v1/spam/dnsbl/{}", &remove_zone_h});
    r.push_back({"GET", "/api/v1/reputation", &reputation_h});
}

} // namespace cartero::webui
