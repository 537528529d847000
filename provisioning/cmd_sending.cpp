// provisioning/cmd_sending.cpp — carteroctl's sending groups: "ip", "pool", "route sender",
// "route transport", "pacing" (config.db; carterod picks changes up within a second) and
// "destinations" (carterod's live per-destination state over the control socket).
#include "core/control_client.hpp"
#include "core/pacing_defaults.hpp"
#include "core/sending_store.hpp"
#include "provisioning/cli_common.hpp"

#include <unistd.h>

#include <ctime>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

namespace cartero::ctl {
namespace {

using json = nlohmann::json;

struct sending_options {
    std::string address, hostname, pool, sender, dest, hop, auth_user, pattern, note;
    int mx_preference = -1;
    bool require_tls = false, password_stdin = false, as_json = false;
    std::int64_t max_connections = 0, messages_per_minute = 0, messages_per_connection = 0;
    CLI::Option* mx_opt = nullptr;
};

// The limit options of one subcommand (pacing add and pacing update each have their own).
struct limit_options {
    CLI::Option *max_conn = nullptr, *mpm = nullptr, *mpc = nullptr, *note = nullptr;
};

// Listings: tab-separated, one entry per line; the header only for people (stdout a tty).
void header(const char* text) {
    if (::isatty(STDOUT_FILENO)) std::cout << text << '\n';
}

// HOST, HOST:PORT, [IPV6]:PORT or a bare IPv6 address (port 25).
config::transport_route_row parse_hop(const std::string& text) {
    config::transport_route_row r;
    std::string host = text, port;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string::npos)
            throw usage_error("next hop " + cartero::quoted(text) + ": '[' without ']'");
        host = text.substr(1, close - 1);
        if (close + 1 < text.size()) {
            if (text[close + 1] != ':')
                throw usage_error("next hop " + cartero::quoted(text) + ": expected ':PORT' after ']'");
            port = text.substr(close + 2);
        }
    } else if (auto colon = text.find(':');
               colon != std::string::npos && text.find(':', colon + 1) == std::string::npos) {
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    r.next_hop = host;
    if (!port.empty() || (text.size() > 1 && text.back() == ':')) {
        bool digits = !port.empty() && port.size() <= 5 &&
                      port.find_first_not_of("0123456789") == std::string::npos;
        long p = digits ? std::stol(port) : 0;
        if (p < 1 || p > 65535)
            throw usage_error("next hop " + cartero::quoted(text) + ": port " + cartero::quoted(port) +
                              " is not 1-65535");
        r.port = static_cast<std::uint16_t>(p);
    }
    return r;
}

std::string limit_text(const std::optional<std::int64_t>& v) {
    return v ? std::to_string(*v) : std::string("-");
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

config::pacing_rule_row pacing_row(const sending_options& o, const limit_options& l) {
    config::pacing_rule_row r;
    r.pattern = o.pattern;
    if (l.max_conn->count()) r.max_connections = o.max_connections;
    if (l.mpm->count()) r.messages_per_minute = o.messages_per_minute;
    if (l.mpc->count()) r.messages_per_connection = o.messages_per_connection;
    r.note = o.note;
    return r;
}

void add_limit_options(CLI::App* cmd, sending_options& o, limit_options& l) {
    l.max_conn = cmd->add_option("--max-connections", o.max_connections,
                                     "simultaneous connections per destination and source IP")
                         ->type_name("N");
    l.mpm = cmd->add_option("--messages-per-minute", o.messages_per_minute,
                                "message rate per destination and source IP")
                    ->type_name("N");
    l.mpc = cmd->add_option("--messages-per-connection", o.messages_per_connection,
                                "messages sent on one connection before reconnecting")
                    ->type_name("N");
    l.note = cmd->add_option("--note", o.note, "why the rule exists (shown by pacing list)")
                     ->type_name("TEXT");
}

const char* pattern_doc = "example.com, *.example.com (the domain and its subdomains), "
                          "mx:mx.example.net or mx:*.example.net (the MX host)";

void register_ip_pool(CLI::App& app, cli_context& ctx, const std::shared_ptr<sending_options>& o) {
    auto* ip = app.add_subcommand("ip", "manage dedicated IPs (source addresses and PTR names)");
    ip->require_subcommand(1);
    auto* add = command(ip, "add", "add an address with its PTR host name", ctx, [o, &ctx] {
        auto db = ctx.open_config();
        config::ip_row r;
        r.address = o->address;
        r.hostname = o->hostname;
        r.pool = o->pool;
        if (o->mx_opt->count()) {
            if (o->mx_preference < 0 || o->mx_preference > 65535)
                throw std::runtime_error("--mx-preference " + std::to_string(o->mx_preference) +
                                         " is out of range (0-65535)");
            r.mx_preference = static_cast<std::uint16_t>(o->mx_preference);
        }
        auto row = config::add_ip(db, r);
        std::cout << row.address << '\t' << row.hostname << '\t'
                  << (row.pool.empty() ? "-" : row.pool) << '\n';
    });
    add->add_option("ADDRESS", o->address, "IPv4 or IPv6 address")->required();
    add->add_option("--hostname", o->hostname, "its PTR name (said in EHLO when sending from it)")
        ->required()
        ->type_name("NAME");
    add->add_option("--pool", o->pool, "send from it for senders routed to this pool")
        ->type_name("P");
    o->mx_opt = add->add_option("--mx-preference", o->mx_preference,
                                "its host name is an MX of the local domains, with this preference")
                    ->type_name("N");
    command(ip, "list", "list addresses: address, hostname, pool, MX preference", ctx, [&ctx] {
        auto db = ctx.open_config();
        header("ADDRESS\tHOSTNAME\tPOOL\tMX");
        for (const auto& r : config::list_ips(db))
            std::cout << r.address << '\t' << r.hostname << '\t' << (r.pool.empty() ? "-" : r.pool)
                      << '\t' << (r.mx_preference ? std::to_string(*r.mx_preference) : "-")
                      << '\n';
    });
    command(ip, "remove", "remove an address", ctx, [o, &ctx] {
        auto db = ctx.open_config();
        config::remove_ip(db, o->address);
    })->add_option("ADDRESS", o->address, "IPv4 or IPv6 address")->required();

    auto* pool = app.add_subcommand("pool", "manage IP pools (named sets of source addresses)");
    pool->require_subcommand(1);
    command(pool, "add", "add a pool", ctx, [o, &ctx] {
        auto db = ctx.open_config();
        config::add_pool(db, o->pool);
    })->add_option("NAME", o->pool, "1-63 of [a-z0-9_-]; \"default\" is used by unrouted senders")
        ->required();
    command(pool, "remove", "remove an empty pool (its sender routes go with it)", ctx, [o, &ctx] {
        auto db = ctx.open_config();
        config::remove_pool(db, o->pool);
    })->add_option("NAME", o->pool, "pool name")->required();
    command(pool, "list", "list pools: name, number of addresses", ctx, [&ctx] {
        auto db = ctx.open_config();
        header("POOL\tADDRESSES");
        for (const auto& p : config::list_pools(db)) std::cout << p.name << '\t' << p.ips << '\n';
    });
}

void register_routes(CLI::App& app, cli_context& ctx, const std::shared_ptr<sending_options>& o) {
    auto* route = app.add_subcommand("route", "manage sender → pool and destination → next hop routes");
    route->require_subcommand(1);

    auto* sender = route->add_subcommand("sender", "which pool a sender's mail leaves from");
    sender->require_subcommand(1);
    auto* sadd = command(sender, "add", "route SENDER (user@domain, domain or .domain) to POOL", ctx, [o, &ctx] {
        auto db = ctx.open_config();
        config::add_sender_route(db, o->sender, o->pool);
    });
    sadd->add_option("SENDER", o->sender,
                     "an address (user@domain), a domain, or .domain (every subdomain of domain)")
        ->required();
    sadd->add_option("POOL", o->pool, "an existing pool")->required();
    command(sender, "list", "list sender routes: sender, pool", ctx, [&ctx] {
        auto db = ctx.open_config();
        header("SENDER\tPOOL");
        for (const auto& r : config::list_sender_routes(db))
            std::cout << r.sender << '\t' << r.pool << '\n';
    });
    command(sender, "remove", "remove a sender route", ctx, [o, &ctx] {
        auto db = ctx.open_config();
        config::remove_sender_route(db, o->sender);
    })->add_option("SENDER", o->sender, "as listed")->required();

    auto* transport = route->add_subcommand(
        "transport", "next hops instead of MX lookup (destination \"*\" is the relayhost)");
    transport->require_subcommand(1);
    auto* tadd = command(
        transport, "add", "send mail for DEST through HOST[:PORT]", ctx, [o, &ctx] {
            auto row = parse_hop(o->hop);
            row.destination = o->dest;
            row.require_tls = o->require_tls;
            row.auth_username = o->auth_user;
            if (!o->auth_user.empty() && !o->password_stdin)
                throw usage_error("--auth-user needs --password-stdin (the password is read from "
                                  "standard input)");
            if (o->auth_user.empty() && o->password_stdin)
                throw usage_error("--password-stdin needs --auth-user");
            auto db = ctx.open_config();
            std::string password = o->password_stdin ? read_secret_line("password") : "";
            config::add_transport_route(db, ctx.require_state_dir(), row, password);
        });
    tadd->add_option("DEST", o->dest,
                     "a recipient domain, .domain (every subdomain of domain), or \"*\" for all "
                     "other mail (relayhost)")
        ->required();
    tadd->add_option("HOST", o->hop, "HOST[:PORT], [IPV6]:PORT (port 25 when omitted)")->required();
    tadd->add_flag("--require-tls", o->require_tls, "never deliver over this hop without STARTTLS");
    tadd->add_option("--auth-user", o->auth_user, "AUTH user name (sent only over TLS)")
        ->type_name("U");
    tadd->add_flag("--password-stdin", o->password_stdin,
                   "read the AUTH password from standard input (stored 0600 under the state dir)");
    command(transport, "list", "list transport routes: destination, next hop, TLS, AUTH user", ctx,
            [&ctx] {
                auto db = ctx.open_config();
                header("DEST\tNEXT-HOP\tTLS\tAUTH");
                for (const auto& r : config::list_transport_routes(db)) {
                    bool v6 = r.next_hop.find(':') != std::string::npos;
                    std::cout << r.destination << '\t' << (v6 ? "[" : "") << r.next_hop
                              << (v6 ? "]" : "") << ':' << r.port << '\t'
                              << (r.require_tls || !r.auth_username.empty() ? "required"
                                                                            : "opportunistic")
                              << '\t' << (r.auth_username.empty() ? "-" : r.auth_username) << '\n';
                }
            });
    command(transport, "remove", "remove a transport route (and its stored password)", ctx,
            [o, &ctx] {
                auto db = ctx.open_config();
                config::remove_transport_route(db, o->dest);
            })
        ->add_option("DEST", o->dest, "a domain, or \"*\"")
        ->required();
}

void register_pacing(CLI::App& app, cli_context& ctx, const std::shared_ptr<sending_options>& o) {
    auto* pacing = app.add_subcommand("pacing", "per-destination limits (connections, rate)");
    pacing->require_subcommand(1);
    auto add_l = std::make_shared<limit_options>();
    auto upd_l = std::make_shared<limit_options>();
    auto* add = command(pacing, "add", "add a pacing rule (at least one limit)", ctx,
                        [o, add_l, &ctx] {
                            auto db = ctx.open_config();
                            config::add_pacing_rule(db, pacing_row(*o, *add_l));
                        });
    add->add_option("PATTERN", o->pattern, pattern_doc)->required();
    add_limit_options(add, *o, *add_l);
    auto* update = command(pacing, "update", "change the limits or note of a rule", ctx,
                           [o, upd_l, &ctx] {
                               auto db = ctx.open_config();
                               std::optional<std::string> note;
                               if (upd_l->note->count()) note = o->note;
                               config::update_pacing_rule(db, pacing_row(*o, *upd_l), note);
                           });
    update->add_option("PATTERN", o->pattern, pattern_doc)->required();
    add_limit_options(update, *o, *upd_l);
    command(pacing, "list",
            "list rules: pattern, max connections, messages per minute, messages per connection, "
            "source (admin or shipped), note; '-' = inherited",
            ctx, [&ctx] {
                auto db = ctx.open_config();
                header("PATTERN\tMAX-CONN\tPER-MINUTE\tPER-CONN\tSOURCE\tNOTE");
                for (const auto& r : config::list_pacing_rules(db))
                    std::cout << r.pattern << '\t' << limit_text(r.max_connections) << '\t'
                              << limit_text(r.messages_per_minute) << '\t'
                              << limit_text(r.messages_per_connection) << "\tadmin\t" << r.note
                              << '\n';
                for (const auto& r : config::shipped_pacing_rules)
                    std::cout << r.pattern << '\t' << r.max_connections << '\t'
                              << r.messages_per_minute << '\t' << r.messages_per_connection
                              << "\tshipped\t" << r.note << '\n';
                using d = config::default_pacing;
                std::cout << "(default)\t" << d::max_connections << '\t'
                          << d::messages_per_minute << '\t' << d::messages_per_connection
                          << "\tshipped\tany other destination (0 per minute = no rate limit)\n";
            });
    command(pacing, "remove", "remove a pacing rule", ctx, [o, &ctx] {
        auto db = ctx.open_config();
        config::remove_pacing_rule(db, o->pattern);
    })->add_option("PATTERN", o->pattern, "as listed")->required();
}

void print_destinations(const json& r) {
    const auto& rows = r.at("destinations");
    if (rows.empty()) {
        std::cout << "No destinations (nothing was sent since carterod started)\n";
        return;
    }
    std::cout << std::left << std::setw(28) << "DESTINATION" << std::setw(18) << "SOURCE-IP"
              << std::right << std::setw(7) << "QUEUED" << std::setw(7) << "CONNS"
              << "  LIMITS (conn/min/per-conn)  STATE\n";
    for (const auto& d : rows) {
        std::string ip = d.value("source_ip", "");
        std::ostringstream limits;
        limits << d.value("max_connections", 0) << '/' << d.value("messages_per_minute", 0) << '/'
               << d.value("messages_per_connection", 0);
        std::cout << std::left << std::setw(28) << d.value("domain", "") << std::setw(18)
                  << (ip.empty() ? "-" : ip) << std::right << std::setw(7) << d.value("queued", 0)
                  << std::setw(7) << d.value("connections", 0) << "  " << std::left
                  << std::setw(26) << limits.str() << ' ';
        if (d.value("paused", false)) {
            std::cout << "paused until " << when(d.value("paused_until", std::int64_t{0})) << " ("
                      << d.value("why", "") << ")\n"
                      << "    reply: " << d.value("reply", "") << '\n';
        } else {
            std::cout << "active\n";
        }
    }
}

} // namespace

void register_sending_commands(CLI::App& app, cli_context& ctx) {
    auto o = std::make_shared<sending_options>();
    register_ip_pool(app, ctx, o);
    register_routes(app, ctx, o);
    register_pacing(app, ctx, o);
    auto* dest = command(&app, "destinations",
                         "carterod's outbound destinations (domain x source IP): queued, "
                         "connections, limits, pauses and the reply that caused them",
                         ctx, [o, &ctx] {
                             auto c = control::control_client::connect(ctx.require_state_dir(),
                                                                       std::chrono::seconds(30));
                             json r = c.call("destinations", json::object());
                             if (o->as_json)
                                 std::cout << r.dump(2, ' ', false, json::error_handler_t::replace)
                                           << '\n';
                             else
                                 print_destinations(r);
                         });
    dest->add_flag("--json", o->as_json, "print the raw JSON result");
}

} // namespace cartero::ctl
