// webui/api/api_sending.cpp — dedicated IPs, pools, sender and transport routes, destination
// pacing, all through core/sending_store (no SQL here).
#include "core/sending_store.hpp"
#include "webui/api/api.hpp"

namespace cartero::webui {

namespace {

using namespace cartero::config;

json ip_json(const ip_row& r) {
    return json{{"address", r.address},
                {"family", r.family},
                {"hostname", r.hostname},
                {"pool", r.pool},
                {"mx_preference", r.mx_preference ? json(*r.mx_preference) : json(nullptr)}};
}

http_response list_ips_h(api_call& c) {
    json items = json::array();
    for (const auto& r : list_ips(c.db)) items.push_back(ip_json(r));
    return json_response(200, json{{"items", items}});
}

// Reads hostname, pool and mx_preference into `row` (address handled by the caller).
void read_ip_fields(body_reader& b, ip_row& row, bool partial, const ip_row* old) {
    auto hostname = b.string("hostname", 253);
    auto pool = b.string("pool", 63);
    const bool mx_given = b.has("mx_preference");
    auto mx = b.integer("mx_preference", 0, 65535);
    b.finish();
    if (!hostname && !partial) throw api_error(400, "hostname is required", "hostname");
    row.hostname = hostname ? *hostname : (old ? old->hostname : "");
    row.pool = pool ? *pool : (old ? old->pool : "");
    if (mx_given) row.mx_preference = mx ? std::optional<std::uint16_t>(static_cast<std::uint16_t>(*mx))
                                         : std::nullopt;
    else row.mx_preference = old ? old->mx_preference : std::nullopt;
}

// Which field a sending_store refusal is about, from its text (the store names what it refuses).
const char* ip_field_of(const std::string& what) {
    if (what.find("pool") != std::string::npos) return "pool";
    if (what.find("host") != std::string::npos) return "hostname";
    if (what.find("preference") != std::string::npos) return "mx_preference";
    return "address";
}

template <class F> auto ip_store_call(F&& fn) -> decltype(fn()) {
    try {
        return fn();
    } catch (const config_error& e) {
        rethrow_config_error(e, ip_field_of(e.what()), 422);
    }
}

http_response add_ip_h(api_call& c) {
    body_reader b(c.body());
    ip_row row;
    row.address = b.required_string("address", 45);
    read_ip_fields(b, row, false, nullptr);
    auto ip = parse_ip(row.address);
    if (!ip) throw api_error(422, ip.error, "address");
    auto stored = ip_store_call([&] { return add_ip(c.db, row); });
    return json_response(201, ip_json(stored));
}

http_response update_ip_h(api_call& c) {
    auto ip = parse_ip(c.params[0]);
    if (!ip) throw api_error(404, "no IP address " + c.params[0].substr(0, 64), "address");
    std::optional<ip_row> old;
    for (const auto& r : list_ips(c.db))
        if (r.address == ip.value.text) old = r;
    if (!old) throw api_error(404, "no IP address " + ip.value.text + " (add it first)", "address");
    body_reader b(c.body());
    ip_row row = *old;
    read_ip_fields(b, row, true, &*old);
    auto stored = ip_store_call([&] { return update_ip(c.db, row); });
    return json_response(200, ip_json(stored));
}

http_response remove_ip_h(api_call& c) {
    with_field("address", [&] { remove_ip(c.db, c.params[0]); });
    return no_content();
}

// Pools.

http_response list_pools_h(api_call& c) {
    json items = json::array();
    for (const auto& p : list_pools(c.db)) items.push_back(json{{"name", p.name}, {"ips", p.ips}});
    return json_response(200, json{{"items", items}});
}

http_response add_pool_h(api_call& c) {
    body_reader b(c.body());
    auto name = b.required_string("name", 63);
    b.finish();
    auto stored = with_field("name", [&] { return add_pool(c.db, name); });
    return json_response(201, json{{"name", stored}, {"ips", 0}});
}

http_response remove_pool_h(api_call& c) {
    with_field("name", [&] { remove_pool(c.db, c.params[0]); });
    return no_content();
}

// Sender routes.

http_response list_sender_routes_h(api_call& c) {
    json items = json::array();
    for (const auto& r : list_sender_routes(c.db))
        items.push_back(json{{"sender", r.sender}, {"pool", r.pool}});
    return json_response(200, json{{"items", items}});
}

http_response add_sender_route_h(api_call& c) {
    body_reader b(c.body());
    auto sender = b.required_string("sender", 320);
    auto pool = b.required_string("pool", 63);
    b.finish();
    try {
        auto r = add_sender_route(c.db, sender, pool);
        return json_response(201, json{{"sender", r.sender}, {"pool", r.pool}});
    } catch (const config_error& e) {
        const std::string what = e.what();
        // A conflict is about the sender (routed already); other refusals name what they refuse.
        const bool pool = e.which() != config_error::kind::conflict &&
                          what.find("pool") != std::string::npos;
        rethrow_config_error(e, pool ? "pool" : "sender", 422);
    }
}

http_response remove_sender_route_h(api_call& c) {
    with_field("sender", [&] { remove_sender_route(c.db, c.params[0]); });
    return no_content();
}

// Transport routes.

json transport_json(const transport_route_row& r) {
    return json{{"destination", r.destination},
                {"next_hop", r.next_hop},
                {"port", r.port},
                {"require_tls", r.require_tls},
                {"auth_username", r.auth_username}};
}

http_response list_transport_routes_h(api_call& c) {
    json items = json::array();
    for (const auto& r : list_transport_routes(c.db)) items.push_back(transport_json(r));
    return json_response(200, json{{"items", items}});
}

http_response add_transport_route_h(api_call& c) {
    body_reader b(c.body());
    transport_route_row row;
    row.destination = b.required_string("destination", 253);
    row.next_hop = b.required_string("next_hop", 253);
    row.port = static_cast<std::uint16_t>(b.integer("port", 1, 65535).value_or(25));
    row.require_tls = b.boolean("require_tls").value_or(false);
    row.auth_username = b.string("auth_username", 254).value_or("");
    auto password = b.string("password", 1024).value_or("");
    b.finish();
    if (row.auth_username.empty() != password.empty())
        throw api_error(422, "auth_username and password go together",
                        row.auth_username.empty() ? "auth_username" : "password");
    try {
        auto r = add_transport_route(c.db, c.cfg.state_dir, row, password);
        return json_response(201, transport_json(r));
    } catch (const config_error& e) {
        const std::string what = e.what();
        const char* field = what.find("next hop") != std::string::npos ||
                                    what.find("next_hop") != std::string::npos
                                ? "next_hop"
                                : what.find("port") != std::string::npos ? "port" : "destination";
        rethrow_config_error(e, field, 422);
    }
}

http_response remove_transport_route_h(api_call& c) {
    with_field("destination", [&] { remove_transport_route(c.db, c.params[0]); });
    return no_content();
}

// Pacing.

json pacing_json(const pacing_rule_row& r) {
    auto opt = [](const std::optional<std::int64_t>& v) { return v ? json(*v) : json(nullptr); };
    return json{{"pattern", r.pattern},
                {"max_connections", opt(r.max_connections)},
                {"messages_per_minute", opt(r.messages_per_minute)},
                {"messages_per_connection", opt(r.messages_per_connection)},
                {"note", r.note}};
}

http_response list_pacing_h(api_call& c) {
    json items = json::array();
    for (const auto& r : list_pacing_rules(c.db)) items.push_back(pacing_json(r));
    return json_response(200, json{{"items", items}});
}

void read_limits(body_reader& b, pacing_rule_row& row) {
    row.max_connections = b.integer("max_connections", 1, 1000);
    row.messages_per_minute = b.integer("messages_per_minute", 1, 1000000);
    row.messages_per_connection = b.integer("messages_per_connection", 1, 100000);
}

const char* pacing_field_of(const std::string& what) {
    if (what.find("pattern") != std::string::npos) return "pattern";
    if (what.find("max_connections") != std::string::npos) return "max_connections";
    if (what.find("messages_per_minute") != std::string::npos) return "messages_per_minute";
    if (what.find("messages_per_connection") != std::string::npos) return "messages_per_connection";
    return "pattern"; // "pacing rule X already exists" / "no pacing rule X"
}

http_response add_pacing_h(api_call& c) {
    body_reader b(c.body());
    pacing_rule_row row;
    row.pattern = b.required_string("pattern", 253);
    read_limits(b, row);
    row.note = b.string("note", 200).value_or("");
    b.finish();
    auto p = normalize_pacing_pattern(row.pattern);
    if (!p) throw api_error(422, p.error, "pattern");
    if (!row.max_connections && !row.messages_per_minute && !row.messages_per_connection)
        throw api_error(422, "set at least one limit", "max_connections");
    try {
        return json_response(201, pacing_json(add_pacing_rule(c.db, row)));
    } catch (const config_error& e) {
        rethrow_config_error(e, pacing_field_of(e.what()), 422);
    }
}

http_response update_pacing_h(api_call& c) {
    body_reader b(c.body());
    pacing_rule_row row;
    row.pattern = c.params[0];
    read_limits(b, row);
    auto note = b.string("note", 200);
    b.finish();
    try {
        return json_response(200, pacing_json(update_pacing_rule(c.db, row, note)));
    } catch (const config_error& e) {
        rethrow_config_error(e, pacing_field_of(e.what()), 404);
    }
}

http_response remove_pacing_h(api_call& c) {
    with_field("pattern", [&] { remove_pacing_rule(c.db, c.params[0]); });
    return no_content();
}

} // namespace

void add_sending_routes(std::vector<route>& r) {
    r.push_back({"GET", "/api/v1/ips", &list_ips_h});
    r.push_back({"POST", "/api/v1/ips", &add_ip_h});
    r.push_back({"PUT", "/api/v1/ips/{}", &update_ip_h});
    r.push_back({"DELETE", "/api/v1/ips/{}", &remove_ip_h});
    r.push_back({"GET", "/api/v1/pools", &list_pools_h});
    r.push_back({"POST", "/api/v1/pools", &add_pool_h});
    r.push_back({"DELETE", "/api/v1/pools/{}", &remove_pool_h});
    r.push_back({"GET", "/api/v1/sender-routes", &list_sender_routes_h});
    r.push_back({"POST", "/api/v1/sender-routes", &add_sender_route_h});
    r.push_back({"DELETE", "/api/v1/sender-routes/{}", &remove_sender_route_h});
    r.push_back({"GET", "/api/v1/transport-routes", &list_transport_routes_h});
    r.push_back({"POST", "/api/v1/transport-routes", &add_transport_route_h});
    r.push_back({"DELETE", "/api/v1/transport-routes/{}", &remove_transport_route_h});
    r.push_back({"GET", "/api/v1/pacing", &list_pacing_h});
    r.push_back({"POST", "/api/v1/pacing", &add_pacing_h});
    r.push_back({"PUT", "/api/v1/pacing/{}", &update_pacing_h});
    r.push_back({"DELETE", "/api/v1/pacing/{}", &remove_pacing_h});
}

} // namespace cartero::webui
