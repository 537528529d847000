// provisioning/cmd_queue.cpp — carteroctl's "queue", "log", "suppression" and "status" command
// groups: each one call on carterod's control socket (carteroctl never opens queue.db).
#include "core/control_client.hpp"
#include "provisioning/cli_common.hpp"

#include <ctime>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace cartero::ctl {

namespace {

using json = nlohmann::json;

struct queue_options {
    std::string id;
    std::string state, kind, sender, recipient;
    bool held = false;
    int limit = 0;
    int offset = 0;
    std::string query;
    std::string address;
    std::string reason;
    bool as_json = false;
};

json call(cli_context& ctx, std::string_view op, const json& args) {
    // Writes wait for the queue's writer thread; 30 s covers a busy group commit with room.
    auto c = control::control_client::connect(ctx.require_state_dir(), std::chrono::seconds(30));
    return c.call(op, args);
}

std::string when(std::int64_t t) {
    if (t <= 0) return "-";
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    ::localtime_r(&tt, &tm);
    std::ostringstream o;
    o << std::put_time(&tm, "%Y-%m-%d %H:%M:%S");
    return o.str();
}

std::string str(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::int64_t num(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_number() ? it->get<std::int64_t>() : 0;
}

std::string sender_text(const json& m) {
    auto s = str(m, "sender");
    return s.empty() ? "<>" : s;
}

// Like postqueue -p: one line per message (id, '!' when held, size, arrival, sender), then
// its recipients indented with their state, attempts and last reply.
void print_messages(const json& r) {
    const auto& rows = r.at("messages");
    if (rows.empty()) {
        std::cout << (num(r, "total") == 0 ? "Queue is empty\n" : "No messages on this page\n");
        return;
    }
    std::cout << std::left << std::setw(18) << "QUEUE-ID" << std::right << std::setw(10) << "SIZE"
              << "  " << std::left << std::setw(19) << "ARRIVAL" << "  SENDER\n";
    for (const auto& m : rows) {
        std::string id = str(m, "id") + (m.value("held", false) ? "!" : "");
        std::cout << std::left << std::setw(18) << id << std::right << std::setw(10)
                  << num(m, "size") << "  " << std::left << std::setw(19)
                  << when(num(m, "received_at")) << "  " << sender_text(m) << '\n';
        for (const auto& rc : m.at("recipients")) {
            std::cout << "    " << std::left << std::setw(10) << str(rc, "state") << ' '
                      << str(rc, "recipient") << "  (" << str(rc, "kind")
                      << ", attempts " << num(rc, "attempts");
            if (num(rc, "next_attempt_at") > 0)
                std::cout << ", next " << when(num(rc, "next_attempt_at"));
            std::cout << ")\n";
            if (!str(rc, "last_reply").empty())
                std::cout << "               " << str(rc, "last_reply") << '\n';
        }
    }
    const auto shown = static_cast<std::int64_t>(rows.size());
    std::cout << "-- " << num(r, "total") << " message(s)";
    if (shown != num(r, "total"))
        std::cout << ", " << shown << " shown from " << num(r, "offset") + 1;
    std::cout << " ('!' = held)\n";
}

void print_log_rows(const json& rows) {
    if (rows.empty()) {
        std::cout << "No log entries\n";
        return;
    }
    for (const auto& l : rows) {
        std::cout << when(num(l, "at")) << "  " << str(l, "queue_id") << "  " << std::left
                  << std::setw(9) << str(l, "result") << ' ' << str(l, "recipient")
                  << "  from " << sender_text(l);
        if (!str(l, "dest_host").empty()) std::cout << "  via " << str(l, "dest_host");
        if (!str(l, "dest_ip").empty()) std::cout << " [" << str(l, "dest_ip") << "]";
        if (!str(l, "tls").empty()) std::cout << "  tls " << str(l, "tls");
        std::cout << "\n    " << str(l, "reply") << '\n';
    }
}

void print_show(const json& m) {
    std::cout << "Queue ID:    " << str(m, "id") << (m.value("held", false) ? "  (HELD)" : "")
              << "\nArrival:     " << when(num(m, "received_at"))
              << "\nSender:      " << sender_text(m) << "\nSize:        " << num(m, "size")
              << "\nMessage-ID:  " << str(m, "message_id") << "\nClient:      "
              << str(m, "client_ip") << " (HELO " << str(m, "helo") << ")";
    if (!str(m, "auth_user").empty()) std::cout << "\nAuth user:   " << str(m, "auth_user");
    std::cout << "\nRecipients:\n";
    for (const auto& rc : m.at("recipients")) {
        std::cout << "    " << std::left << std::setw(10) << str(rc, "state") << ' '
                  << str(rc, "recipient") << "  (" << str(rc, "kind") << ", attempts "
                  << num(rc, "attempts") << ")\n";
        if (!str(rc, "last_reply").empty())
            std::cout << "               " << str(rc, "last_reply") << '\n';
    }
    std::cout << "Log:\n";
    if (m.at("log").empty()) std::cout << "    (none)\n";
    for (const auto& l : m.at("log"))
        std::cout << "    " << when(num(l, "at")) << "  " << std::left << std::setw(9)
                  << str(l, "result") << ' ' << str(l, "recipient") << "  " << str(l, "reply")
                  << '\n';
    std::cout << "Headers" << (m.value("headers_truncated", false) ? " (first 16 KiB)" : "")
              << ":\n";
    std::string h = str(m, "headers");
    std::string out;
    for (char c : h)
        if (c != '\r') out += c;
    std::cout << out;
    if (!out.empty() && out.back() != '\n') std::cout << '\n';
}

void print_status(const json& s) {
    std::cout << "carterod " << str(s, "version") << ", up " << num(s, "uptime_seconds")
              << " s, " << num(s, "messages_accepted") << " message(s) accepted since start\n";
    const auto& q = s.at("queue");
    std::cout << "queue: " << num(q, "messages") << " message(s), " << num(q, "held") << " held\n";
    std::cout << std::left << std::setw(12) << "recipients" << std::right << std::setw(8)
              << "local" << std::setw(8) << "remote" << '\n';
    for (const char* state : {"queued", "deferred", "failed", "delivered"}) {
        const json& row = q.at("recipients").value(state, json::object());
        std::cout << std::left << std::setw(12) << state << std::right << std::setw(8)
                  << num(row, "local") << std::setw(8) << num(row, "remote") << '\n';
    }
}

void print_action(const json& r, const std::string& what) {
    std::cout << str(r, "id") << ": " << what;
    if (r.contains("recipients") && what != "held" && what != "released")
        std::cout << " (" << num(r, "recipients") << " recipient(s))";
    std::cout << '\n';
}

// Adds `--json` to a subcommand.
CLI::App* with_json(CLI::App* sub, queue_options& o) {
    sub->add_flag("--json", o.as_json, "print the raw JSON result");
    return sub;
}

void emit(const queue_options& o, const json& r, const std::function<void(const json&)>& human) {
    if (o.as_json)
        std::cout << r.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
    else
        human(r);
}

} // namespace

void register_queue_commands(CLI::App& app, cli_context& ctx) {
    auto o = std::make_shared<queue_options>();
    auto& opt = *o;

    auto* queue = app.add_subcommand("queue", "view and act on carterod's queue (control socket)");
    queue->require_subcommand(1);

    auto* list = with_json(command(queue, "list", "list queued messages and their recipients",
                                   ctx,
                                   [&ctx, o] {
                                       json args = json::object();
                                       if (!o->state.empty()) args["state"] = o->state;
                                       if (!o->kind.empty()) args["kind"] = o->kind;
                                       if (!o->sender.empty()) args["sender"] = o->sender;
                                       if (!o->recipient.empty())
                                           args["recipient"] = o->recipient;
                                       if (o->held) args["held"] = true;
                                       if (o->limit) args["limit"] = o->limit;
                                       if (o->offset) args["offset"] = o->offset;
                                       emit(*o, call(ctx, "queue.list", args), print_messages);
                                   }),
                           opt);
    list->add_option("--state", opt.state, "only messages with a recipient in this state")
        ->check(CLI::IsMember({"queued", "deferred", "failed", "delivered"}));
    list->add_option("--kind", opt.kind, "only messages with a recipient of this kind")
        ->check(CLI::IsMember({"local", "remote"}));
    list->add_option("--sender", opt.sender, "envelope sender contains this text");
    list->add_option("--recipient", opt.recipient, "a recipient contains this text");
    list->add_flag("--held", opt.held, "only held messages");
    list->add_option("--limit", opt.limit, "at most N messages (1-1000, default 100)")
        ->check(CLI::Range(1, 1000));
    list->add_option("--offset", opt.offset, "skip the first N matches")->check(CLI::NonNegativeNumber);

    struct action {
        const char* name;
        const char* op;
        const char* doc;
        const char* done;
    };
    static const action actions[] = {
        {"retry", "queue.retry", "try a message's queued and deferred recipients now", "retry scheduled now"},
        {"hold", "queue.hold", "hold a message (not delivered until released)", "held"},
        {"release", "queue.release", "release a held message", "released"},
        {"delete", "queue.delete", "remove a message (undelivered recipients logged as failed)", "deleted"},
        {"bounce", "queue.bounce", "fail a message's undelivered recipients and bounce them", "bounced"},
    };
    auto* show = with_json(command(queue, "show", "a message: metadata, headers, recipients, log",
                                   ctx,
                                   [&ctx, o] {
                                       emit(*o, call(ctx, "queue.show", {{"id", o->id}}),
                                            print_show);
                                   }),
                           opt);
    show->add_option("ID", opt.id, "queue id (from queue list)")->required();
    for (const auto& a : actions) {
        auto* sub = with_json(command(queue, a.name, a.doc, ctx,
                                      [&ctx, o, &a] {
                                          emit(*o, call(ctx, a.op, {{"id", o->id}}),
                                               [&a](const json& r) { print_action(r, a.done); });
                                      }),
                              opt);
        sub->add_option("ID", opt.id, "queue id (from queue list)")->required();
    }

    auto* log = app.add_subcommand("log", "search the delivery log (control socket)");
    log->require_subcommand(1);
    auto* search = with_json(
        command(log, "search", "delivery-log rows for an address, a queue id or a Message-ID",
                ctx,
                [&ctx, o] {
                    json args{{"query", o->query}};
                    if (o->limit) args["limit"] = o->limit;
                    emit(*o, call(ctx, "log.search", args),
                         [](const json& r) { print_log_rows(r.at("rows")); });
                }),
        opt);
    search->add_option("QUERY", opt.query, "ADDRESS (recipient or sender), QUEUE-ID or MESSAGE-ID")
        ->required();
    search->add_option("--limit", opt.limit, "at most N rows, newest first (1-1000, default 100)")
        ->check(CLI::Range(1, 1000));

    auto* sup = app.add_subcommand("suppression", "the suppression list (control socket)");
    sup->require_subcommand(1);
    with_json(command(sup, "list", "list suppressed addresses", ctx,
                      [&ctx, o] {
                          emit(*o, call(ctx, "suppression.list", json::object()),
                               [](const json& r) {
                                   if (r.at("rows").empty()) std::cout << "No suppressed addresses\n";
                                   for (const auto& s : r.at("rows"))
                                       std::cout << str(s, "address") << '\t'
                                                 << when(num(s, "created_at")) << '\t'
                                                 << str(s, "reason") << '\n';
                               });
                      }),
              opt);
    auto* sadd = with_json(command(sup, "add", "refuse ADDRESS as a recipient until removed", ctx,
                                   [&ctx, o] {
                                       json args{{"address", o->address}};
                                       if (!o->reason.empty()) args["reason"] = o->reason;
                                       emit(*o, call(ctx, "suppression.add", args),
                                            [](const json& r) {
                                                std::cout << str(r, "address")
                                                          << (r.value("added", false)
                                                                  ? ": suppressed\n"
                                                                  : ": already suppressed\n");
                                            });
                                   }),
                           opt);
    sadd->add_option("ADDRESS", opt.address, "user@domain")->required();
    sadd->add_option("--reason", opt.reason, "why (shown in listings)");
    auto* srem = with_json(command(sup, "remove", "accept ADDRESS again", ctx,
                                   [&ctx, o] {
                                       emit(*o, call(ctx, "suppression.remove",
                                                     {{"address", o->address}}),
                                            [](const json& r) {
                                                std::cout << str(r, "address") << ": removed\n";
                                            });
                                   }),
                           opt);
    srem->add_option("ADDRESS", opt.address, "user@domain")->required();

    with_json(command(&app, "status", "carterod's version, uptime and queue counts", ctx,
                      [&ctx, o] { emit(*o, call(ctx, "status", json::object()), print_status); }),
              opt);
}

} // namespace cartero::ctl
