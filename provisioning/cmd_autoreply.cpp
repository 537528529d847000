// provisioning/cmd_autoreply.cpp — carteroctl's "autoreply" (mailbox autoresponders, RFC 3834) and
// "greylist" (per-domain greylisting and its whitelist) groups; config.db only, carterod picks
// changes up within a second.
#include "core/autoreply_store.hpp"
#include "core/greylist_settings.hpp"
#include "provisioning/cli_common.hpp"

#include <unistd.h>

#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>

namespace cartero::ctl {
namespace {

struct autoreply_options {
    std::string address, subject, body, body_file, html_file, start, end;
    int interval = 7;
    bool disabled = false;
    CLI::Option *body_opt = nullptr, *body_file_opt = nullptr;
    std::string domain, entry, note;
    int delay = -1, retry_window = -1, expiry_days = -1; // -1 = not given: keep
};

// A file's bytes ("-" = stdin); a usage_error naming it when unreadable.
std::string read_file(const std::string& path) {
    if (path == "-") {
        return std::string(std::istreambuf_iterator<char>(std::cin), {});
    }
    std::ifstream f(path, std::ios::binary);
    if (!f) throw usage_error("cannot read " + path);
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::string when(const std::optional<std::int64_t>& t) {
    if (!t) return "-";
    std::time_t tt = static_cast<std::time_t>(*t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

void header(const char* text) {
    if (::isatty(STDOUT_FILENO)) std::cout << text << '\n';
}

void cmd_set(const autoreply_options& o, cli_context& ctx) {
    if (!o.body_opt->count() && !o.body_file_opt->count())
        throw usage_error("give the reply's text with --body TEXT or --body-file FILE");
    config::autoreply_row row;
    row.mailbox = o.address;
    row.enabled = !o.disabled;
    row.subject = o.subject;
    row.body_text = o.body_file_opt->count() ? read_file(o.body_file) : o.body;
    if (!o.html_file.empty()) row.body_html = read_file(o.html_file);
    if (!o.start.empty()) {
        auto t = config::parse_when(o.start, false);
        if (!t) throw usage_error("--start: " + t.error);
        row.start_at = t.value;
    }
    if (!o.end.empty()) {
        auto t = config::parse_when(o.end, true);
        if (!t) throw usage_error("--end: " + t.error);
        row.end_at = t.value;
    }
    row.interval_days = o.interval;
    auto db = ctx.open_config();
    auto stored = config::set_autoreply(db, row);
    std::cout << "autoreply set for " << stored.mailbox << " ("
              << (stored.enabled ? "enabled" : "disabled") << ", " << when(stored.start_at)
              << " .. " << when(stored.end_at) << ", one reply per sender every "
              << stored.interval_days << " days)\n";
}

void print_row(const config::autoreply_row& r) {
    std::cout << "mailbox: " << r.mailbox << '\n'
              << "enabled: " << (r.enabled ? "yes" : "no") << '\n'
              << "subject: " << (r.subject.empty() ? "(Auto: <original subject>)" : r.subject) << '\n'
              << "start: " << when(r.start_at) << '\n'
              << "end: " << when(r.end_at) << '\n'
              << "interval_days: " << r.interval_days << '\n'
              << "html: " << (r.body_html ? "yes" : "no") << '\n'
              << "body:\n" << r.body_text;
    if (r.body_text.empty() || r.body_text.back() != '\n') std::cout << '\n';
}

void register_greylist(CLI::App& app, cli_context& ctx, const std::shared_ptr<autoreply_options>& o) {
    auto* g = app.add_subcommand("greylist", "greylisting per domain (RFC 6647) and its whitelist");
    g->require_subcommand(1);
    auto* en = command(g, "enable", "greylist mail to DOMAIN from unknown servers", ctx, [o, &ctx] {
        auto db = ctx.open_config();
        config::greylist_domain_row row;
        row.domain = o->domain;
        for (const auto& r : config::list_greylist_domains(db)) // keep what is not given
            if (r.domain == o->domain) row = r;
        row.enabled = true;
        if (o->delay != -1) row.delay_seconds = o->delay;
        if (o->retry_window != -1) row.retry_window_seconds = o->retry_window;
        if (o->expiry_days != -1) row.expiry_days = o->expiry_days;
        auto s = config::set_greylist_domain(db, row);
        std::cout << "greylisting on for " << s.domain << ": delay " << s.delay_seconds
                  << " s, retry window " << s.retry_window_seconds << " s, expiry "
                  << s.expiry_days << " days\n";
    });
    en->add_option("DOMAIN", o->domain, "a local domain")->required();
    en->add_option("--delay", o->delay, "seconds a new sender/server must wait (default 300)")
        ->type_name("SECONDS");
    en->add_option("--retry-window", o->retry_window,
                   "seconds after the first try within which a retry counts (default 172800)")
        ->type_name("SECONDS");
    en->add_option("--expiry-days", o->expiry_days,
                   "days a server that retried stays whitelisted without mail (default 35)")
        ->type_name("DAYS");
    command(g, "disable", "stop greylisting mail to DOMAIN", ctx, [o, &ctx] {
        auto db = ctx.open_config();
        config::disable_greylist_domain(db, o->domain);
    })->add_option("DOMAIN", o->domain, "a local domain")->required();
    command(g, "list", "domains: name, on|off, delay, retry window, expiry days", ctx, [&ctx] {
        auto db = ctx.open_config();
        header("DOMAIN\tSTATE\tDELAY\tRETRY_WINDOW\tEXPIRY_DAYS");
        for (const auto& r : config::list_greylist_domains(db))
            std::cout << r.domain << '\t' << (r.enabled ? "on" : "off") << '\t' << r.delay_seconds
                      << '\t' << r.retry_window_seconds << '\t' << r.expiry_days << '\n';
    });
    auto* wl = g->add_subcommand("whitelist", "client networks and sender domains never greylisted");
    wl->require_subcommand(1);
    auto* add = command(wl, "add", "whitelist an IP, a CIDR network or a sender domain", ctx, [o, &ctx] {
        auto db = ctx.open_config();
        auto r = config::add_greylist_whitelist(db, o->entry, o->note);
        std::cout << r.kind << '\t' << r.value << '\n';
    });
    add->add_option("ENTRY", o->entry, "192.0.2.0/24, 2001:db8::/48, 198.51.100.7 or example.org")
        ->required();
    add->add_option("--note", o->note, "why (shown by list)");
    command(wl, "remove", "remove an entry", ctx, [o, &ctx] {
        auto db = ctx.open_config();
        config::remove_greylist_whitelist(db, o->entry);
    })->add_option("ENTRY", o->entry, "as added")->required();
    command(wl, "list", "entries: kind, value, note", ctx, [&ctx] {
        auto db = ctx.open_config();
        header("KIND\tVALUE\tNOTE");
        for (const auto& r : config::list_greylist_whitelist(db))
            std::cout << r.kind << '\t' << r.value << '\t' << r.note << '\n';
    });
}

} // namespace

void register_autoreply_commands(CLI::App& app, cli_context& ctx) {
    auto o = std::make_shared<autoreply_options>();
    auto* ar = app.add_subcommand("autoreply", "mailbox autoresponders (vacation replies, RFC 3834)");
    ar->require_subcommand(1);

    auto* set = command(ar, "set", "create or replace ADDRESS's autoresponder", ctx,
                        [o, &ctx] { cmd_set(*o, ctx); });
    set->add_option("ADDRESS", o->address, "a mailbox")->required();
    set->add_option("--subject", o->subject,
                    "the reply's subject (default: \"Auto: \" + the original subject)")
        ->type_name("S");
    o->body_opt = set->add_option("--body", o->body, "the reply's text")->type_name("S");
    o->body_file_opt =
        set->add_option("--body-file", o->body_file, "the reply's text from a UTF-8 file (- = stdin)")
            ->type_name("F");
    o->body_opt->excludes(o->body_file_opt);
    set->add_option("--html-file", o->html_file, "an HTML version too (multipart/alternative)")
        ->type_name("F");
    set->add_option("--start", o->start, "first day (YYYY-MM-DD[THH:MM], UTC; default now)")
        ->type_name("DATE");
    set->add_option("--end", o->end, "last day, inclusive (default: until cleared)")
        ->type_name("DATE");
    set->add_option("--interval", o->interval, "days between two replies to one sender (1-365, default 7)")
        ->type_name("DAYS");
    set->add_flag("--disabled", o->disabled, "store it switched off");

    command(ar, "clear", "remove ADDRESS's autoresponder", ctx, [o, &ctx] {
        auto db = ctx.open_config();
        config::clear_autoreply(db, o->address);
    })->add_option("ADDRESS", o->address, "a mailbox")->required();

    command(ar, "show", "print ADDRESS's autoresponder", ctx, [o, &ctx] {
        auto db = ctx.open_config();
        auto r = config::get_autoreply(db, o->address);
        if (!r)
            throw config::config_error(config::config_error::kind::not_found,
                                       o->address + " has no autoresponder");
        print_row(*r);
    })->add_option("ADDRESS", o->address, "a mailbox")->required();

    command(ar, "list", "autoresponders: mailbox, on|off, start, end, interval, subject", ctx, [&ctx] {
        auto db = ctx.open_config();
        header("MAILBOX\tSTATE\tSTART\tEND\tINTERVAL_DAYS\tSUBJECT");
        const auto now = static_cast<std::int64_t>(std::time(nullptr));
        for (const auto& r : config::list_autoreplies(db))
            std::cout << r.mailbox << '\t'
                      << (r.active_at(now) ? "on" : r.enabled ? "scheduled/over" : "off") << '\t'
                      << when(r.start_at) << '\t' << when(r.end_at) << '\t' << r.interval_days
                      << '\t' << r.subject << '\n';
    });

    register_greylist(app, ctx, o);
}

} // namespace cartero::ctl
