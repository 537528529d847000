// webui/api/api_domains.cpp — domains, mailboxes (with Maildir++ quota usage) and forwarders,
// all through core/config_db (no SQL here).
#include "core/address_norm.hpp"
#include "core/size_parse.hpp"
#include "webui/api/api.hpp"
#include "webui/maildir_usage.hpp"

#include <algorithm>

namespace cartero::webui {

namespace {

std::string domain_of(const std::string& address) {
    auto at = address.rfind('@');
    return at == std::string::npos ? std::string() : address.substr(at + 1);
}

json domain_json(const config::domain_row& d) {
    return json{{"name", d.name},
                {"mailboxes", d.mailboxes},
                {"forwarders", d.forwarders},
                {"created_at", d.created_at}};
}

http_response list_domains(api_call& c) {
    json items = json::array();
    for (const auto& d : c.db.list_domains()) items.push_back(domain_json(d));
    return json_response(200, json{{"items", items}});
}

http_response add_domain(api_call& c) {
    body_reader b(c.body());
    auto name = b.required_string("name", 253);
    b.finish();
    auto stored = with_field("name", [&] { return c.db.add_domain(name); });
    for (const auto& d : c.db.list_domains())
        if (d.name == stored) return json_response(201, domain_json(d));
    return json_response(201, json{{"name", stored}});
}

http_response remove_domain(api_call& c) {
    with_field("name", [&] { c.db.remove_domain(c.params[0]); });
    return no_content();
}

// Mailboxes.

json mailbox_json(const config::mailbox_row& m, const panel_config& cfg) {
    const auto domain = domain_of(m.address);
    const auto local = m.address.substr(0, m.address.size() - domain.size() - 1);
    const auto use = read_maildir_usage(cfg.mail_root, domain, local);
    return json{{"address", m.address},
                {"domain", domain},
                {"quota_bytes", m.quota_bytes},
                {"used_bytes", use.bytes},
                {"used_messages", use.messages},
                {"enabled", m.enabled},
                {"created_at", m.created_at}};
}

std::optional<config::mailbox_row> find_mailbox(api_call& c, const std::string& raw) {
    auto n = names::normalize_address(raw);
    if (!n) return std::nullopt;
    std::vector<config::mailbox_row> rows;
    try {
        rows = c.db.list_mailboxes(domain_of(n.value));
    } catch (const config::config_error&) {
        return std::nullopt;
    }
    for (const auto& m : rows)
        if (m.address == n.value) return m;
    return std::nullopt;
}

config::mailbox_row require_mailbox(api_call& c, const std::string& raw) {
    auto m = find_mailbox(c, raw);
    if (!m) throw api_error(404, "no mailbox " + raw.substr(0, 320), "address");
    return *m;
}

// "quota": a size string ("500M", "0") or a byte count.
std::optional<std::uint64_t> quota_field(body_reader& b) {
    auto v = b.raw("quota");
    if (!v || v->is_null()) return std::nullopt;
    if (v->is_number_unsigned()) return v->get<std::uint64_t>();
    if (v->is_number_integer()) throw api_error(422, "quota may not be negative", "quota");
    if (!v->is_string())
        throw api_error(400, "quota must be a size like \"500M\" or a number of bytes", "quota");
    auto q = units::parse_size(v->get<std::string>());
    if (!q) throw api_error(422, "quota: " + q.error, "quota");
    return q.value;
}

void check_new_password(const std::optional<std::string>& pw) {
    if (pw && pw->empty()) throw api_error(422, "the password is empty", "password");
}

http_response list_mailboxes(api_call& c) {
    auto q = c.req.query_params();
    auto domain = q.count("domain") ? q["domain"] : std::string();
    auto rows = with_field("domain", [&] { return c.db.list_mailboxes(domain); });
    json items = json::array();
    for (const auto& m : rows) items.push_back(mailbox_json(m, c.cfg));
    return json_response(200, json{{"items", items}});
}

http_response get_mailbox(api_call& c) {
    return json_response(200, mailbox_json(require_mailbox(c, c.params[0]), c.cfg));
}

http_response add_mailbox(api_call& c) {
    body_reader b(c.body());
    auto address = b.required_string("address", 320);
    auto password = b.string("password", 1024);
    auto quota = quota_field(b);
    auto enabled = b.boolean("enabled");
    b.finish();
    if (!password) throw api_error(400, "password is required", "password");
    check_new_password(password);
    auto n = names::normalize_address(address);
    if (!n) throw api_error(422, n.error, "address");
    auto stored = with_field(
        "address", [&] { return c.db.add_mailbox(n.value, *password, quota.value_or(0)); }, 422);
    if (enabled && !*enabled) c.db.set_enabled(stored, false);
    return json_response(201, mailbox_json(require_mailbox(c, stored), c.cfg));
}

http_response patch_mailbox(api_call& c) {
    const auto m = require_mailbox(c, c.params[0]);
    body_reader b(c.body());
    auto password = b.string("password", 1024);
    auto quota = quota_field(b);
    auto enabled = b.boolean("enabled");
    b.finish();
    check_new_password(password);
    // Everything is checked above; each write below is one of config_db's own transactions, and
    // none of them can fail on input any more (only on storage).
    if (password) with_field("password", [&] { c.db.set_password(m.address, *password); });
    if (quota) with_field("quota", [&] { c.db.set_quota(m.address, *quota); });
    if (enabled) with_field("enabled", [&] { c.db.set_enabled(m.address, *enabled); });
    return json_response(200, mailbox_json(require_mailbox(c, m.address), c.cfg));
}

http_response remove_mailbox(api_call& c) {
    const auto m = require_mailbox(c, c.params[0]);
    with_field("address", [&] { c.db.remove_mailbox(m.address); });
    return no_content();
}

// Forwarders.

json forwarder_json(const config::forwarder_row& f) {
    return json{{"source", f.source}, {"domain", domain_of(f.source)}, {"destinations", f.destinations}};
}

std::vector<std::string> destinations_field(body_reader& b) {
    auto v = b.raw("destinations");
    if (!v) throw api_error(400, "destinations is required", "destinations");
    if (!v->is_array()) throw api_error(400, "destinations must be a list of addresses", "destinations");
    if (v->empty()) throw api_error(422, "give at least one destination address", "destinations");
    if (v->size() > 100) throw api_error(422, "at most 100 destinations", "destinations");
    std::vector<std::string> out;
    for (const auto& d : *v) {
        if (!d.is_string()) throw api_error(400, "destinations must be strings", "destinations");
        auto n = names::normalize_address(d.get<std::string>());
        if (!n)
            throw api_error(422, d.get<std::string>().substr(0, 320) + ": " + n.error, "destinations");
        out.push_back(n.value);
    }
    return out;
}

std::optional<config::forwarder_row> find_forwarder(api_call& c, const std::string& source) {
    std::vector<config::forwarder_row> rows;
    try {
        rows = c.db.list_forwarders(domain_of(source));
    } catch (const config::config_error&) {
        return std::nullopt;
    }
    for (const auto& f : rows)
        if (f.source == source) return f;
    return std::nullopt;
}

http_response list_forwarders(api_call& c) {
    auto q = c.req.query_params();
    auto domain = q.count("domain") ? q["domain"] : std::string();
    auto rows = with_field("domain", [&] { return c.db.list_forwarders(domain); });
    json items = json::array();
    for (const auto& f : rows) items.push_back(forwarder_json(f));
    return json_response(200, json{{"items", items}});
}

http_response add_forwarder(api_call& c) {
    body_reader b(c.body());
    auto source = b.required_string("source", 320);
    auto dests = destinations_field(b);
    b.finish();
    auto row = with_field("source", [&] { return c.db.add_forwarder(source, dests); }, 422);
    return json_response(201, forwarder_json(row));
}

// Replaces the destinations: checked first (normalised, none equal to the source), then the
// forwarder is removed and added again; if the add still fails the old list is put back.
http_response put_forwarder(api_call& c) {
    const std::string raw = c.params[0];
    std::string source = raw;
    if (!raw.starts_with("@")) {
        auto n = names::normalize_address(raw);
        if (!n) throw api_error(404, "no forwarder " + raw.substr(0, 320), "source");
        source = n.value;
    } else {
        auto d = names::normalize_domain(raw.substr(1));
        if (!d) throw api_error(404, "no forwarder " + raw.substr(0, 320), "source");
        source = "@" + d.value;
    }
    auto old = find_forwarder(c, source);
    if (!old) throw api_error(404, "no forwarder " + source, "source");
    body_reader b(c.body());
    auto dests = destinations_field(b);
    b.finish();
    if (std::find(dests.begin(), dests.end(), source) != dests.end())
        throw api_error(422, "a forwarder may not forward to its own address", "destinations");
    c.db.remove_forwarder(source);
    try {
        auto row = c.db.add_forwarder(source, dests);
        return json_response(200, forwarder_json(row));
    } catch (const config::config_error& e) {
        c.db.add_forwarder(source, old->destinations);
        rethrow_config_error(e, "destinations", 422);
    }
}

http_response remove_forwarder(api_call& c) {
    with_field("source", [&] { c.db.remove_forwarder(c.params[0]); });
    return no_content();
}

} // namespace

void add_domain_routes(std::vector<route>& r) {
    r.push_back({"GET", "/api/v1/domains", &list_domains});
    r.push_back({"POST", "/api/v1/domains", &add_domain});
    r.push_back({"DELETE", "/api/v1/domains/{}", &remove_domain});
    r.push_back({"GET", "/api/v1/mailboxes", &list_mailboxes});
    r.push_back({"POST", "/api/v1/mailboxes", &add_mailbox});
    r.push_back({"GET", "/api/v1/mailboxes/{}", &get_mailbox});
    r.push_back({"PATCH", "/api/v1/mailboxes/{}", &patch_mailbox});
    r.push_back({"DELETE", "/api/v1/mailboxes/{}", &remove_mailbox});
    r.push_back({"GET", "/api/v1/forwarders", &list_forwarders});
    r.push_back({"POST", "/api/v1/forwarders", &add_forwarder});
    r.push_back({"PUT", "/api/v1/forwarders/{}", &put_forwarder});
    r.push_back({"DELETE", "/api/v1/forwarders/{}", &remove_forwarder});
}

} // namespace cartero::webui
