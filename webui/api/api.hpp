// webui/api/api.hpp — what every /api/v1 handler shares: the call (request, config.db, the
// authenticated admin, path parameters), typed reads of the JSON body, and api_error, which the
// router turns into {"error", "field"} with its status.
#pragma once

#include "core/admin_store.hpp"
#include "core/config_db.hpp"
#include "webui/http.hpp"
#include "webui/panel_config.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace cartero::webui {

using json = nlohmann::json;

struct api_error : std::runtime_error {
    api_error(int status, const std::string& message, std::string field = {})
        : std::runtime_error(message), status(status), field(std::move(field)) {}
    int status;
    std::string field;
};

// Who is calling: a session (cookie) or an API token.
struct principal {
    admin::admin_row admin;
    std::string session_id; // "" for a token
    std::string csrf_token; // "" for a token
    std::int64_t expires_at = 0;
};

struct api_call {
    const http_request& req;
    config::config_db& db;
    const panel_config& cfg;
    principal who;
    std::vector<std::string> params; // the {} segments of the route, decoded

    // The body as a JSON object (400 when it is not one; 415 when not application/json).
    const json& body();
    std::optional<json> body_;
};

// Typed reads of a JSON object's fields; finish() refuses fields nobody read (400, naming it).
class body_reader {
public:
    explicit body_reader(const json& j) : j_(j) {}
    std::optional<std::string> string(const char* name, std::size_t max_len = 998);
    std::string required_string(const char* name, std::size_t max_len = 998);
    std::optional<bool> boolean(const char* name);
    // An integer in [min, max]; `null_ok`: JSON null reads as "present but null" (→ is_null).
    std::optional<std::int64_t> integer(const char* name, std::int64_t min, std::int64_t max);
    bool is_null(const char* name) const;
    bool has(const char* name) const { return j_.contains(name); }
    const json* raw(const char* name);
    void finish();

private:
    const json& j_;
    std::set<std::string> seen_;
};

// Runs `fn`, turning config::config_error into api_error with `field`: invalid → 422,
// not_found → `not_found_status` (404, or 422 when the missing thing is a referenced value),
// conflict → 409, storage → 500.
template <class F>
auto with_field(const char* field, F&& fn, int not_found_status = 404) -> decltype(fn());
[[noreturn]] void rethrow_config_error(const config::config_error& e, const char* field,
                                       int not_found_status);

template <class F>
auto with_field(const char* field, F&& fn, int not_found_status) -> decltype(fn()) {
    try {
        return fn();
    } catch (const config::config_error& e) {
        rethrow_config_error(e, field, not_found_status);
    }
}

http_response json_response(int status, const json& j);
http_response no_content();
http_response error_response(int status, const std::string& message, const std::string& field);

// Handler registration: each api_*.cpp adds its routes to the table.
using handler_fn = http_response (*)(api_call&);
struct route {
    const char* method;
    const char* pattern; // "/api/v1/mailboxes/{}": {} matches one non-empty segment
    handler_fn fn;
    bool public_route = false; // no authentication (login)
};
void add_domain_routes(std::vector<route>& r);   // api_domains.cpp: domains, mailboxes, forwarders
void add_sending_routes(std::vector<route>& r);  // api_sending.cpp: ips, pools, routes, pacing
void add_dkim_dns_routes(std::vector<route>& r); // api_dkim_dns.cpp: dkim, dns
void add_queue_routes(std::vector<route>& r);    // api_queue.cpp: queue, log, bounces, stats,
                                                 // suppressions (carterod's control socket)
void add_session_routes(std::vector<route>& r);  // api_session.cpp: session, account, totp
void add_filter_routes(std::vector<route>& r);   // api_filters.cpp: autoresponders, spam
                                                 // settings/rules/lists/DNSBL, reputation

} // namespace cartero::webui
