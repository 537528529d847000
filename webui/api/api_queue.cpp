// webui/api/api_queue.cpp — the live queue, delivery log, bounces, suppression list and the
// dashboard's statistics: every one a call on carterod's control socket (the panel never opens
// queue.db). carterod not running → 503.
#include "core/control_client.hpp"
#include "core/dkim_store.hpp"
#include "webui/api/api.hpp"

#include <charconv>

namespace cartero::webui {

namespace {

// One call on a fresh connection (connecting costs microseconds; no state across requests).
json control_call(api_call& c, std::string_view op, const json& args) {
    try {
        auto cl = control::control_client::connect(c.cfg.state_dir, std::chrono::seconds(30));
        return cl.call(op, args);
    } catch (const std::runtime_error& e) {
        const std::string what = e.what();
        if (what.starts_with("carterod is not running") || what.starts_with("cannot reach") ||
            what.starts_with("carterod did not answer") || what.starts_with("carterod closed"))
            throw api_error(503, what, "");
        if (what.starts_with("no message")) throw api_error(404, what, "id");
        if (what.find("is not on the suppression list") != std::string::npos)
            throw api_error(404, what, "address");
        throw api_error(422, what, "");
    }
}

// Query parameters → control args: integers checked here so that a typo is a 400 naming it.
std::optional<std::int64_t> int_param(const std::map<std::string, std::string>& q,
                                      const char* name, std::int64_t min, std::int64_t max) {
    auto it = q.find(name);
    if (it == q.end() || it->second.empty()) return std::nullopt;
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
    if (ec != std::errc() || p != it->second.data() + it->second.size() || v < min || v > max)
        throw api_error(400, std::string(name) + " must be an integer from " + std::to_string(min) +
                                 " to " + std::to_string(max), name);
    return v;
}

void refuse_unknown(const std::map<std::string, std::string>& q,
                    std::initializer_list<const char*> known) {
    for (const auto& [k, v] : q) {
        bool ok = false;
        for (const char* n : known) ok |= k == n;
        if (!ok) throw api_error(400, "unknown query parameter " + k.substr(0, 64), k.substr(0, 64));
    }
}

http_response queue_list(api_call& c) {
    auto q = c.req.query_params();
    refuse_unknown(q, {"state", "kind", "sender", "recipient", "held", "limit", "offset"});
    json args = json::object();
    for (const char* k : {"state", "kind", "sender", "recipient"})
        if (q.count(k) && !q[k].empty()) args[k] = q[k];
    if (q.count("held") && !q["held"].empty()) {
        if (q["held"] != "true" && q["held"] != "false")
            throw api_error(400, "held must be true or false", "held");
        args["held"] = q["held"] == "true";
    }
    if (auto v = int_param(q, "limit", 1, 1000)) args["limit"] = *v;
    if (auto v = int_param(q, "offset", 0, 1'000'000'000)) args["offset"] = *v;
    auto r = control_call(c, "queue.list", args);
    return json_response(200, json{{"total", r.value("total", 0)},
                                   {"offset", r.value("offset", 0)},
                                   {"items", r.value("messages", json::array())}});
}

http_response queue_show(api_call& c) {
    return json_response(200, control_call(c, "queue.show", json{{"id", c.params[0]}}));
}

http_response queue_action(api_call& c, const char* op) {
    if (!c.req.body.empty()) body_reader(c.body()).finish();
    return json_response(200, control_call(c, op, json{{"id", c.params[0]}}));
}

http_response queue_retry(api_call& c) { return queue_action(c, "queue.retry"); }
http_response queue_hold(api_call& c) { return queue_action(c, "queue.hold"); }
http_response queue_release(api_call& c) { return queue_action(c, "queue.release"); }
http_response queue_bounce(api_call& c) { return queue_action(c, "queue.bounce"); }
http_response queue_delete(api_call& c) { return queue_action(c, "queue.delete"); }

http_response log_search(api_call& c) {
    auto q = c.req.query_params();
    refuse_unknown(q, {"query", "since", "until", "limit"});
    if (!q.count("query") || q["query"].empty())
        throw api_error(400, "query is required: an address, a queue id or a Message-ID", "query");
    json args{{"query", q["query"]}};
    if (auto v = int_param(q, "since", 0, INT64_C(1) << 40)) args["since"] = *v;
    if (auto v = int_param(q, "until", 0, INT64_C(1) << 40)) args["until"] = *v;
    if (auto v = int_param(q, "limit", 1, 1000)) args["limit"] = *v;
    auto r = control_call(c, "log.search", args);
    return json_response(200, json{{"items", r.value("rows", json::array())}});
}

http_response bounces(api_call& c) {
    auto q = c.req.query_params();
    refuse_unknown(q, {"class", "since", "limit"});
    json args = json::object();
    if (q.count("class") && !q["class"].empty()) args["class"] = q["class"];
    args["since"] = int_param(q, "since", 0, INT64_C(1) << 40).value_or(c.cfg.now() - 7 * 86400);
    if (auto v = int_param(q, "limit", 1, 1000)) args["limit"] = *v;
    auto r = control_call(c, "bounces", args);
    return json_response(200, json{{"items", r.value("rows", json::array())},
                                   {"classes", r.value("classes", json::object())}});
}

http_response stats(api_call& c) {
    auto status = control_call(c, "status", json::object());
    auto st = control_call(c, "stats", json::object());
    auto dest = control_call(c, "destinations", json::object());
    json destinations = dest.value("destinations", json::array());
    json warnings = json::array();
    int paused = 0;
    for (const auto& d : destinations) {
        auto until = d.find("paused_until");
        if (until != d.end() && until->is_number() && until->get<std::int64_t>() > c.cfg.now()) {
            ++paused;
            warnings.push_back("deliveries to " + d.value("domain", d.value("destination", std::string("?"))) +
                               " are paused: " + d.value("why", std::string("")));
        }
    }
    // Domains that would send unsigned mail.
    for (const auto& d : c.db.list_domains()) {
        bool active = false;
        for (const auto& k : config::list_dkim_keys(c.db, d.name)) active |= k.active;
        if (!active) warnings.push_back("domain " + d.name + " has no active DKIM key");
    }
    auto deferred = status["queue"]["recipients"]["deferred"];
    std::int64_t n_deferred = 0;
    if (deferred.is_object())
        for (const auto& [k, v] : deferred.items()) n_deferred += v.is_number() ? v.get<std::int64_t>() : 0;
    if (n_deferred > 0) warnings.push_back(std::to_string(n_deferred) + " recipient(s) deferred in the queue");
    return json_response(200, json{{"status", status},
                                   {"windows", st.value("windows", json::object())},
                                   {"hourly", st.value("hourly", json::array())},
                                   {"daily", st.value("daily", json::array())},
                                   {"destinations", destinations},
                                   {"paused", paused},
                                   {"warnings", warnings}});
}

http_response suppression_list(api_call& c) {
    auto q = c.req.query_params();
    refuse_unknown(q, {"limit", "offset"});
    json args = json::object();
    if (auto v = int_param(q, "limit", 1, 1000)) args["limit"] = *v;
    if (auto v = int_param(q, "offset", 0, 1'000'000'000)) args["offset"] = *v;
    auto r = control_call(c, "suppression.list", args);
    return json_response(200, json{{"items", r.value("rows", json::array())}});
}

http_response suppression_add(api_call& c) {
    body_reader b(c.body());
    auto address = b.required_string("address", 320);
    auto reason = b.string("reason", 200);
    b.finish();
    json args{{"address", address}};
    if (reason) args["reason"] = *reason;
    try {
        auto r = control_call(c, "suppression.add", args);
        if (!r.value("added", false)) throw api_error(409, address + " is already on the list", "address");
        return json_response(201, r);
    } catch (api_error& e) {
        if (e.status == 422) e.field = "address";
        throw;
    }
}

http_response suppression_remove(api_call& c) {
    try {
        control_call(c, "suppression.remove", json{{"address", c.params[0]}});
    } catch (api_error& e) {
        if (e.status == 422) e.field = "address";
        throw;
    }
    return no_content();
}

} // namespace

void add_queue_routes(std::vector<route>& r) {
    r.push_back({"GET", "/api/v1/queue", &queue_list});
    r.push_back({"GET", "/api/v1/queue/{}", &queue_show});
    r.push_back({"DELETE", "/api/v1/queue/{}", &queue_delete});
    r.push_back({"POST", "/api/v1/queue/{}/retry", &queue_retry});
    r.push_back({"POST", "/api/v1/queue/{}/hold", &queue_hold});
    r.push_back({"POST", "/api/v1/queue/{}/release", &queue_release});
    r.push_back({"POST", "/api/v1/queue/{}/bounce", &queue_bounce});
    r.push_back({"GET", "/api/v1/log", &log_search});
    r.push_back({"GET", "/api/v1/bounces", &bounces});
    r.push_back({"GET", "/api/v1/stats", &stats});
    r.push_back({"GET", "/api/v1/suppressions", &suppression_list});
    r.push_back({"POST", "/api/v1/suppressions", &suppression_add});
    r.push_back({"DELETE", "/api/v1/suppressions/{}", &suppression_remove});
}

} // namespace cartero::webui
