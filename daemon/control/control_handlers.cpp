// daemon/control/control_handlers.cpp — one handler per control op (table-driven dispatch).
#include "daemon/control/control_handlers.hpp"

#include "core/address_norm.hpp"
#include "core/log.hpp"

namespace cartero::control {

using json = nlohmann::json;

namespace {

json recipient_json(const queue::recipient_view& r) {
    return json{{"row", r.id},
                {"recipient", r.deliver_to},
                {"rcpt_to", r.rcpt_to},
                {"kind", r.kind},
                {"state", r.state},
                {"attempts", r.attempts},
                {"next_attempt_at", r.next_attempt_at},
                {"first_attempt_at", r.first_attempt_at},
                {"updated_at", r.updated_at},
                {"last_reply", r.last_reply},
                {"bounce_class", r.bounce_class},
                {"notify", r.notify},
                {"orcpt", r.orcpt},
                {"dsn_sent", r.dsn_sent}};
}

json message_json(const queue::message_view& m) {
    json rcpts = json::array();
    for (const auto& r : m.recipients) rcpts.push_back(recipient_json(r));
    return json{{"id", m.id},
                {"received_at", m.received_at},
                {"sender", m.sender},
                {"size", m.size},
                {"held", m.held},
                {"message_id", m.message_id_header},
                {"recipients", std::move(rcpts)}};
}

json log_json(const queue::log_row& l) {
    return json{{"id", l.id},
                {"at", l.at},
                {"queue_id", l.message_id},
                {"recipient", l.recipient},
                {"result", l.result},
                {"reply", l.reply},
                {"sender", l.sender},
                {"message_id", l.message_id_header},
                {"dest_host", l.dest_host},
                {"dest_ip", l.dest_ip},
                {"source_ip", l.source_ip},
                {"tls", l.tls},
                {"bounce_class", l.bounce_class}};
}

// Queue ids are [0-9A-Z]; refusing anything else early gives a clearer error than "not found".
std::string queue_id_arg(args_reader& a) {
    std::string id = a.required_string("id", 64);
    for (char c : id)
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
            throw args_error("\"" + id + "\" is not a queue id (letters and digits, as shown by "
                             "carteroctl queue list)");
    for (auto& c : id)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return id;
}

json action_json(const queue::action_result& r) {
    return json{{"id", r.queue_id}, {"recipients", r.recipients}};
}

std::string address_arg(args_reader& a) {
    const std::string raw = a.required_string("address", 320);
    auto n = names::normalize_address(raw);
    if (!n) throw args_error("\"" + raw + "\" is not a mail address: " + n.error);
    return n.value;
}

} // namespace

const handlers::entry handlers::table_[] = {
    {"status", &handlers::status},
    {"queue.list", &handlers::queue_list},
    {"queue.show", &handlers::queue_show},
    {"queue.hold", &handlers::queue_hold},
    {"queue.release", &handlers::queue_release},
    {"queue.retry", &handlers::queue_retry},
    {"queue.delete", &handlers::queue_delete},
    {"queue.bounce", &handlers::queue_bounce},
    {"log.search", &handlers::log_search},
    {"suppression.list", &handlers::suppression_list},
    {"suppression.add", &handlers::suppression_add},
    {"suppression.remove", &handlers::suppression_remove},
    {"destinations", &handlers::destinations},
    {"stats", &handlers::stats},
    {"bounces", &handlers::bounces},
};

handlers::handlers(queue::queue_admin& admin, daemon_status status)
    : admin_(admin), status_(std::move(status)) {
    if (status_.version.empty()) status_.version = CARTERO_VERSION;
}

std::string handlers::handle(const request& r) {
    for (const auto& e : table_) {
        if (e.op != r.op) continue;
        try {
            args_reader a(r.op, r.args);
            json result = (this->*e.run)(a);
            return ok_line(r.id, result);
        } catch (const args_error& ex) {
            return error_line(r.id, ex.what());
        } catch (const queue::admin_error& ex) {
            return error_line(r.id, ex.what());
        } catch (const std::exception& ex) {
            log::error("control_op_failed", {{"op", r.op}, {"error", ex.what()}});
            return error_line(r.id, "internal error in " + r.op + ": " + ex.what());
        }
    }
    // parse_request admits known ops only; a name in known_ops() without a handler is a bug.
    return error_line(r.id, "op " + r.op + " is not implemented by this carterod");
}

json handlers::status(args_reader& a) {
    a.finish();
    const auto c = admin_.counts();
    json by_state = json::object();
    for (const auto& [key, n] : c.recipients) {
        const auto slash = key.find('/');
        by_state[key.substr(0, slash)][key.substr(slash + 1)] = n;
    }
    const auto up = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::steady_clock::now() - status_.started)
                        .count();
    return json{{"version", status_.version},
                {"uptime_seconds", up},
                {"started_at", status_.started_at},
                {"messages_accepted",
                 status_.messages_accepted ? status_.messages_accepted() : 0},
                {"control_clients", status_.control_clients ? status_.control_clients() : 0},
                {"queue", json{{"messages", c.messages},
                               {"held", c.held},
                               {"recipients", std::move(by_state)}}}};
}

json handlers::queue_list(args_reader& a) {
    queue::list_filter f;
    f.state = a.string("state", 16).value_or("");
    f.kind = a.string("kind", 16).value_or("");
    f.sender = a.string("sender", 320).value_or("");
    f.recipient = a.string("recipient", 320).value_or("");
    f.held = a.boolean("held");
    f.limit = static_cast<int>(a.integer("limit", 1, queue::queue_admin::max_limit).value_or(100));
    f.offset = static_cast<int>(a.integer("offset", 0, 1'000'000'000).value_or(0));
    a.finish();
    if (!f.state.empty() && f.state != "queued" && f.state != "deferred" && f.state != "failed" &&
        f.state != "delivered")
        throw args_error("queue.list: \"state\" must be queued, deferred, failed or delivered");
    if (!f.kind.empty() && f.kind != "local" && f.kind != "remote")
        throw args_error("queue.list: \"kind\" must be local or remote");
    auto res = admin_.list(f);
    json rows = json::array();
    for (const auto& m : res.messages) rows.push_back(message_json(m));
    return json{{"total", res.total}, {"offset", f.offset}, {"messages", std::move(rows)}};
}

json handlers::queue_show(args_reader& a) {
    const auto id = queue_id_arg(a);
    a.finish();
    auto d = admin_.show(id);
    if (!d)
        throw queue::admin_error("no message " + id + " in the queue (delivered, deleted, or a "
                                 "wrong id; see: carteroctl queue list)");
    json j = message_json(*d);
    j["helo"] = d->helo;
    j["client_ip"] = d->client_ip;
    j["auth_user"] = d->auth_user;
    j["envid"] = d->envid;
    j["dsn_ret"] = d->dsn_ret;
    j["headers"] = d->headers;
    j["headers_truncated"] = d->headers_truncated;
    json log = json::array();
    for (const auto& l : d->log) log.push_back(log_json(l));
    j["log"] = std::move(log);
    return j;
}

json handlers::queue_hold(args_reader& a) {
    const auto id = queue_id_arg(a);
    a.finish();
    json j = action_json(admin_.hold(id));
    j["held"] = true;
    return j;
}

json handlers::queue_release(args_reader& a) {
    const auto id = queue_id_arg(a);
    a.finish();
    json j = action_json(admin_.release(id));
    j["held"] = false;
    return j;
}

json handlers::queue_retry(args_reader& a) {
    const auto id = queue_id_arg(a);
    a.finish();
    return action_json(admin_.retry(id));
}

json handlers::queue_delete(args_reader& a) {
    const auto id = queue_id_arg(a);
    a.finish();
    return action_json(admin_.remove(id));
}

json handlers::queue_bounce(args_reader& a) {
    const auto id = queue_id_arg(a);
    a.finish();
    return action_json(admin_.bounce(id));
}

json handlers::log_search(args_reader& a) {
    queue::log_query q;
    q.query = a.required_string("query", 998);
    q.since = a.integer("since", 0, INT64_C(1) << 40).value_or(0);
    q.until = a.integer("until", 0, INT64_C(1) << 40).value_or(0);
    q.limit = static_cast<int>(a.integer("limit", 1, queue::queue_admin::max_limit).value_or(100));
    a.finish();
    json rows = json::array();
    for (const auto& l : admin_.search_log(q)) rows.push_back(log_json(l));
    return json{{"rows", std::move(rows)}};
}

json handlers::suppression_list(args_reader& a) {
    const int limit =
        static_cast<int>(a.integer("limit", 1, queue::queue_admin::max_limit).value_or(1000));
    const int offset = static_cast<int>(a.integer("offset", 0, 1'000'000'000).value_or(0));
    a.finish();
    json rows = json::array();
    for (const auto& s : admin_.suppressions(limit, offset))
        rows.push_back(json{{"address", s.address},
                            {"reason", s.reason},
                            {"bounce_class", s.bounce_class},
                            {"source_message", s.source_message},
                            {"created_at", s.created_at}});
    return json{{"rows", std::move(rows)}};
}

json handlers::suppression_add(args_reader& a) {
    const auto address = address_arg(a);
    const auto reason = a.string("reason", 200).value_or("added by the administrator");
    a.finish();
    const bool added = admin_.suppress(address, reason.empty() ? "added by the administrator"
                                                               : reason);
    return json{{"address", address}, {"added", added}};
}

json handlers::suppression_remove(args_reader& a) {
    const auto address = address_arg(a);
    a.finish();
    if (!admin_.unsuppress(address))
        throw queue::admin_error(address + " is not on the suppression list");
    return json{{"address", address}, {"removed", true}};
}

json handlers::destinations(args_reader& a) {
    a.finish();
    return json{{"destinations", status_.destinations ? status_.destinations() : json::array()}};
}

json handlers::stats(args_reader& a) {
    a.finish();
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const auto st = admin_.stats(now);
    auto counts = [](const queue::result_counts& c) {
        return json{{"delivered", c.delivered},
                    {"deferred", c.deferred},
                    {"failed", c.failed},
                    {"bounced", c.bounced}};
    };
    auto series = [&](const auto& buckets) {
        json out = json::array();
        for (const auto& [at, c] : buckets) {
            json j = counts(c);
            j["at"] = at;
            out.push_back(std::move(j));
        }
        return out;
    };
    return json{{"now", now},
                {"windows", json{{"24h", counts(st.last_24h)}, {"7d", counts(st.last_7d)}}},
                {"hourly", series(st.hourly)},
                {"daily", series(st.daily)}};
}

json handlers::bounces(args_reader& a) {
    queue::bounce_query q;
    q.bounce_class = a.string("class", 64).value_or("");
    q.since = a.integer("since", 0, INT64_C(1) << 40).value_or(0);
    q.limit = static_cast<int>(a.integer("limit", 1, queue::queue_admin::max_limit).value_or(100));
    a.finish();
    const auto r = admin_.bounces(q);
    json rows = json::array();
    for (const auto& l : r.rows) rows.push_back(log_json(l));
    json classes = json::object();
    for (const auto& [k, n] : r.classes) classes[k] = n;
    return json{{"rows", std::move(rows)}, {"classes", std::move(classes)}};
}

} // namespace cartero::control
