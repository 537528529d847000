// provisioning/cmd_spam.cpp — carteroctl's "spam" command group: settings (global and per
// domain), header/body rules, allow and block lists, DNSBL/DNSWL zones (core/filter_store).
#include "core/filter_store.hpp"
#include "provisioning/cli_common.hpp"

#include <cstdio>
#include <iostream>
#include <memory>
#include <unistd.h>

namespace cartero::ctl {
namespace {

struct spam_options {
    std::string domain, name, pattern, header, description, entry, mailbox, zone, match, list;
    std::string tag, junk, reject, dmarc_reject, dmarc_quarantine, score, weight = "3";
    std::vector<std::string> inherit;
    bool body = false, enable = false, disable = false, recipient = false, allow_zone = false;
};

double number(const std::string& v, const char* what) {
    std::size_t used = 0;
    double d = 0;
    try {
        d = std::stod(v, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (v.empty() || used != v.size()) throw usage_error(std::string(what) + ": '" + v + "' is not a number");
    return d;
}

std::string fmt(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

template <class T> std::string opt(const std::optional<T>& v) {
    if (!v) return "inherit";
    if constexpr (std::is_same_v<T, bool>) return *v ? "yes" : "no";
    else if constexpr (std::is_same_v<T, double>) return fmt(*v);
    else return *v;
}

void header(const char* text) {
    if (::isatty(STDOUT_FILENO)) std::cout << text << '\n';
}

void settings(cli_context& ctx, const spam_options& o) {
    auto db = ctx.open_config();
    const bool change = o.enable || o.disable || !o.tag.empty() || !o.junk.empty() ||
                        !o.reject.empty() || !o.dmarc_reject.empty() ||
                        !o.dmarc_quarantine.empty() || !o.inherit.empty();
    if (change) {
        if (o.enable && o.disable) throw usage_error("give --enable or --disable, not both");
        auto row = config::get_spam_settings(db, o.domain);
        if (o.enable) row.enabled = true;
        if (o.disable) row.enabled = false;
        if (!o.tag.empty()) row.tag_threshold = number(o.tag, "--tag");
        if (!o.junk.empty()) row.junk_threshold = number(o.junk, "--junk");
        if (!o.reject.empty())
            row.reject_threshold = o.reject == "off" ? 1000.0 : number(o.reject, "--reject");
        if (!o.dmarc_reject.empty()) row.dmarc_reject_action = o.dmarc_reject;
        if (!o.dmarc_quarantine.empty()) row.dmarc_quarantine_action = o.dmarc_quarantine;
        for (const auto& f : o.inherit) {
            if (f == "enabled") row.enabled.reset();
            else if (f == "tag") row.tag_threshold.reset();
            else if (f == "junk") row.junk_threshold.reset();
            else if (f == "reject") row.reject_threshold.reset();
            else if (f == "dmarc-reject") row.dmarc_reject_action.reset();
            else if (f == "dmarc-quarantine") row.dmarc_quarantine_action.reset();
            else
                throw usage_error("--inherit " + f +
                                  ": use enabled, tag, junk, reject, dmarc-reject or dmarc-quarantine");
        }
        config::set_spam_settings(db, row);
    }
    const auto e = config::effective_spam_settings(db, o.domain);
    const auto r = config::get_spam_settings(db, o.domain);
    std::cout << "scope\t" << (o.domain.empty() ? std::string("global") : r.domain) << '\n'
              << "enabled\t" << (e.enabled ? "yes" : "no") << "\t(" << opt(r.enabled) << ")\n"
              << "tag\t" << fmt(e.tag_threshold) << "\t(" << opt(r.tag_threshold) << ")\n"
              << "junk\t" << fmt(e.junk_threshold) << "\t(" << opt(r.junk_threshold) << ")\n"
              << "reject\t" << fmt(e.reject_threshold) << "\t(" << opt(r.reject_threshold) << ")\n"
              << "dmarc-reject\t" << e.dmarc_reject_action << "\t(" << opt(r.dmarc_reject_action)
              << ")\n"
              << "dmarc-quarantine\t" << e.dmarc_quarantine_action << "\t("
              << opt(r.dmarc_quarantine_action) << ")\n";
}

config::spam_list_row list_row(const spam_options& o, const char* list) {
    config::spam_list_row r;
    r.list = list;
    r.direction = o.recipient ? "recipient" : "sender";
    r.entry = o.entry;
    if (!o.domain.empty() && !o.mailbox.empty())
        throw usage_error("give --domain or --mailbox, not both");
    r.scope = !o.mailbox.empty() ? "mailbox" : !o.domain.empty() ? "domain" : "global";
    r.owner = !o.mailbox.empty() ? o.mailbox : o.domain;
    return r;
}

void add_list_commands(CLI::App* spam, cli_context& ctx, std::shared_ptr<spam_options> o,
                       const char* list, const char* doc) {
    auto* g = spam->add_subcommand(list, doc);
    g->require_subcommand(1);
    auto scope = [&](CLI::App* c) {
        c->add_option("ENTRY", o->entry,
                      "an address, @domain, or (senders only) an IP address or CIDR")
            ->required();
        c->add_flag("--recipient", o->recipient,
                    "the entry names a recipient (default: the sender or client)");
        c->add_option("--domain", o->domain, "only for mail to this local domain");
        c->add_option("--mailbox", o->mailbox, "only for mail to this mailbox");
    };
    const std::string l = list;
    scope(command(g, "add", "add an entry", ctx, [o, &ctx, l] {
        auto db = ctx.open_config();
        auto r = config::add_spam_list_entry(db, list_row(*o, l.c_str()));
        std::cout << r.list << '\t' << r.direction << '\t' << r.scope << '\t' << r.owner << '\t'
                  << r.entry << '\n';
    }));
    scope(command(g, "remove", "remove an entry", ctx, [o, &ctx, l] {
        auto db = ctx.open_config();
        config::remove_spam_list_entry(db, list_row(*o, l.c_str()));
    }));
    command(g, "list", "list entries: direction, scope, owner, entry", ctx, [&ctx, l] {
        auto db = ctx.open_config();
        header("DIRECTION\tSCOPE\tOWNER\tENTRY");
        for (const auto& r : config::list_spam_list_entries(db, l))
            std::cout << r.direction << '\t' << r.scope << '\t' << (r.owner.empty() ? "-" : r.owner)
                      << '\t' << r.entry << '\n';
    });
}

} // namespace

void register_spam_commands(CLI::App& app, cli_context& ctx) {
    auto o = std::make_shared<spam_options>();
    auto* spam = app.add_subcommand("spam", "spam filtering: thresholds, rules, allow/block lists, "
                                            "DNSBL zones");
    spam->require_subcommand(1);

    auto* st = command(spam, "settings",
                       "show the settings (global, or DOMAIN's with inheritance); options change "
                       "them",
                       ctx, [o, &ctx] { settings(ctx, *o); });
    st->add_option("DOMAIN", o->domain, "a local domain (default: the global settings)");
    st->add_flag("--enable", o->enable, "score mail (default)");
    st->add_flag("--disable", o->disable, "do not score mail (DMARC actions still apply)");
    st->add_option("--tag", o->tag, "X-Spam-Flag: YES from this score (default 5)");
    st->add_option("--junk", o->junk, "file into Junk from this score (default 6)");
    st->add_option("--reject", o->reject, "refuse with 550 from this score (default 15; off)");
    st->add_option("--dmarc-reject", o->dmarc_reject,
                   "DMARC fail under p=reject: reject (default), junk or none")
        ->check(CLI::IsMember({"reject", "junk", "none"}));
    st->add_option("--dmarc-quarantine", o->dmarc_quarantine,
                   "DMARC fail under p=quarantine: junk (default), reject or none")
        ->check(CLI::IsMember({"reject", "junk", "none"}));
    st->add_option("--inherit", o->inherit,
                   "forget a stored value (enabled, tag, junk, reject, dmarc-reject, "
                   "dmarc-quarantine): the domain then follows the global one");

    auto* rule = spam->add_subcommand("rule", "header and body rules (RE2 regular expressions)");
    rule->require_subcommand(1);
    auto* add = command(rule, "add", "add a rule; a pattern that does not compile or could "
                                     "explode is refused",
                        ctx, [o, &ctx] {
                            if (o->header.empty() == !o->body)
                                throw usage_error("give --header FIELD or --body");
                            config::spam_rule_row r;
                            r.name = o->name;
                            r.target = o->body ? "body" : "header";
                            r.header_name = o->header;
                            r.pattern = o->pattern;
                            r.score = number(o->score, "--score");
                            r.description = o->description;
                            auto db = ctx.open_config();
                            config::add_spam_rule(db, r);
                        });
    add->add_option("NAME", o->name, "1-64 of [A-Za-z0-9_.-]")->required();
    add->add_option("--header", o->header, "match this header field's value (e.g. subject)");
    add->add_flag("--body", o->body, "match the decoded text of the body");
    add->add_option("--pattern", o->pattern, "RE2 syntax; (?i) for case-insensitive")->required();
    add->add_option("--score", o->score, "added on a match (-100..100)")->required();
    add->add_option("--description", o->description, "one line for the X-Spam-Report");
    command(rule, "list", "list rules: name, target, score, pattern", ctx, [&ctx] {
        auto db = ctx.open_config();
        header("NAME\tTARGET\tSCORE\tPATTERN");
        for (const auto& r : config::list_spam_rules(db))
            std::cout << r.name << '\t' << (r.target == "header" ? r.header_name : "body") << '\t'
                      << fmt(r.score) << '\t' << r.pattern << '\n';
    });
    command(rule, "remove", "remove a rule", ctx, [o, &ctx] {
        auto db = ctx.open_config();
        config::remove_spam_rule(db, o->name);
    })->add_option("NAME", o->name, "the rule's name")->required();

    add_list_commands(spam, ctx, o, "allow", "allow list: senders or recipients never scored as spam");
    add_list_commands(spam, ctx, o, "block", "block list: senders or recipients always spam");

    auto* bl = spam->add_subcommand("dnsbl", "DNS block lists (and welcome lists with --allow)");
    bl->require_subcommand(1);
    auto* bl_add = command(bl, "add", "query ZONE for every client address", ctx, [o, &ctx] {
        config::dnsbl_zone_row z;
        z.zone = o->zone;
        z.list = o->allow_zone ? "allow" : "block";
        z.weight = number(o->weight, "--weight");
        if (o->allow_zone && z.weight > 0) z.weight = -z.weight;
        if (!o->match.empty()) z.match = o->match;
        auto db = ctx.open_config();
        config::add_dnsbl_zone(db, z);
    });
    bl_add->add_option("ZONE", o->zone, "e.g. zen.spamhaus.org")->required();
    bl_add->add_option("--weight", o->weight, "score added when listed (default 3; +3..+5 usual)");
    bl_add->add_flag("--allow", o->allow_zone, "a welcome list (DNSWL): the weight lowers the score");
    bl_add->add_option("--match", o->match, "answers that count, a CIDR in 127.0.0.0/8");
    command(bl, "list", "list zones: zone, block|allow, weight, match", ctx, [&ctx] {
        auto db = ctx.open_config();
        header("ZONE\tLIST\tWEIGHT\tMATCH");
        for (const auto& z : config::list_dnsbl_zones(db))
            std::cout << z.zone << '\t' << z.list << '\t' << fmt(z.weight) << '\t' << z.match << '\n';
    });
    command(bl, "remove", "stop querying a zone", ctx, [o, &ctx] {
        auto db = ctx.open_config();
        config::remove_dnsbl_zone(db, o->zone);
    })->add_option("ZONE", o->zone, "the zone")->required();
}

} // namespace cartero::ctl
