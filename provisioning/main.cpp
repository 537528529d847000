// provisioning/main.cpp — carteroctl: command-line wiring (CLI11) for state-dir, domains,
// mailboxes, forwarders and settings.
#include "core/address_norm.hpp"
#include "core/config_db.hpp"
#include "core/size_parse.hpp"
#include "provisioning/cli_common.hpp"
#include "provisioning/state_dir.hpp"

#include <CLI/CLI.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

namespace {

using namespace cartero;

using ctl::usage_error;

struct options {
    ctl::cli_context* ctx = nullptr;
    std::string hostname;
    std::string name;
    std::string address;
    std::vector<std::string> destinations;
    std::string domain;
    std::string key;
    std::string value;
    std::string quota;
    bool password_stdin = false;
};

std::string state_dir(const options& o) {
    return o.ctx->require_state_dir();
}

config::config_db open_db(const options& o) {
    return o.ctx->open_config();
}

// --password-stdin: one line; the trailing newline (and a CR before it) is not part of it.
std::string read_password() {
    return ctl::read_secret_line("password");
}

std::uint64_t quota_of(const options& o) {
    if (o.quota.empty()) return 0;
    auto q = units::parse_size(o.quota);
    if (!q) throw std::runtime_error("--quota: " + q.error);
    return q.value;
}

// Listings: tab-separated, one entry per line; the header only for people (stdout a tty).
void header(const char* text) {
    if (::isatty(STDOUT_FILENO)) std::cout << text << '\n';
}

void cmd_init(const options& o) {
    std::string dir = state_dir(o);
    auto h = names::normalize_domain(o.hostname);
    if (!h) throw std::runtime_error("--hostname: " + h.error);
    ctl::init_state_dir(dir, h.value);
    // The panel's first admin; the password is shown once (only its hash is stored).
    auto db = o.ctx->open_config();
    const auto pw = ctl::create_initial_admin(db, "admin");
    std::cout << "panel admin: admin\npanel password: " << pw << '\n';
}

void cmd_domain_list(const options& o) {
    auto db = open_db(o);
    header("DOMAIN");
    for (const auto& d : db.list_domains())
        std::cout << d.name << '\n';
}

void cmd_mailbox_list(const options& o) {
    auto db = open_db(o);
    header("ADDRESS\tQUOTA\tSTATE");
    for (const auto& m : db.list_mailboxes(o.domain))
        std::cout << m.address << '\t'
                  << (m.quota_bytes == 0 ? std::string("unlimited")
                                         : units::format_size(m.quota_bytes))
                  << '\t' << (m.enabled ? "enabled" : "disabled") << '\n';
}

void cmd_forwarder_list(const options& o) {
    auto db = open_db(o);
    header("SOURCE\tDESTINATIONS");
    for (const auto& f : db.list_forwarders(o.domain)) {
        std::cout << f.source << '\t';
        for (std::size_t i = 0; i < f.destinations.size(); ++i)
            std::cout << (i ? "," : "") << f.destinations[i];
        std::cout << '\n';
    }
}

void cmd_setting_get(const options& o) {
    auto db = open_db(o);
    auto v = db.get_setting(o.key);
    std::cout << v.value_or("") << '\n';
}

// CLI11's "A subcommand is required" names neither the command nor the choices; say both.
std::string usage_message(CLI::App& app, const CLI::ParseError& e) {
    std::string msg = e.what();
    for (auto& c : msg)
        if (c == '\n') c = ' ';
    CLI::App* at = &app;
    std::string path = "carteroctl";
    for (bool deeper = true; deeper;) {
        deeper = false;
        for (CLI::App* sub : at->get_subcommands()) {
            at = sub;
            path += " " + sub->get_name();
            deeper = true;
            break;
        }
    }
    if (msg.find("subcommand is required") != std::string::npos) {
        std::string choices;
        for (CLI::App* sub : at->get_subcommands({}))
            choices += (choices.empty() ? "" : ", ") + sub->get_name();
        auto extra = at->remaining();
        if (!extra.empty())
            return "unknown command '" + extra.front() + "' for " + path +
                   "; use one of: " + choices;
        return path + " needs a command: " + choices + " (see " + path + " --help)";
    }
    return msg + " (see " + path + " --help)";
}

} // namespace

int main(int argc, char** argv) {
    ctl::cli_context ctx;
    options o;
    o.ctx = &ctx;

    CLI::App app{"carteroctl: manage a Cartero state directory (domains, mailboxes, forwarders, "
                 "settings)",
                 "carteroctl"};
    app.option_defaults()->always_capture_default(false);
    app.add_option("--state-dir", ctx.state_dir,
                   "state directory (config.db, queue.db, spool, mail)")
        ->envname("CARTERO_STATE_DIR")
        ->type_name("DIR");
    app.require_subcommand(1);

    auto* init = ctl::command(&app, "init", "create and lay out the state directory", ctx,
                              [&] { cmd_init(o); });
    init->add_option("--hostname", o.hostname, "this server's host name")
        ->required()
        ->type_name("NAME");

    auto* domain = app.add_subcommand("domain", "manage local domains");
    domain->require_subcommand(1);
    ctl::command(domain, "add", "add a local domain", ctx, [&] { open_db(o).add_domain(o.name); })
        ->add_option("NAME", o.name, "domain name (Unicode names are stored as IDNA A-labels)")
        ->required();
    ctl::command(domain, "remove", "remove a domain that has no mailboxes or forwarders", ctx,
                 [&] { open_db(o).remove_domain(o.name); })
        ->add_option("NAME", o.name, "domain name")
        ->required();
    ctl::command(domain, "list", "list domains, one per line", ctx, [&] { cmd_domain_list(o); });

    auto* mailbox = app.add_subcommand("mailbox", "manage mailboxes");
    mailbox->require_subcommand(1);
    auto* mb_add =
        ctl::command(mailbox, "add", "add a mailbox (the password is read from stdin)", ctx, [&] {
            auto db = open_db(o);
            std::uint64_t q = quota_of(o);
            db.add_mailbox(o.address, read_password(), q);
        });
    mb_add->add_option("ADDRESS", o.address, "user@domain; the domain must exist")->required();
    mb_add->add_flag("--password-stdin", o.password_stdin, "read the password from standard input")
        ->required();
    mb_add->add_option("--quota", o.quota, "size limit, binary units (500M, 2G); 0 = unlimited")
        ->type_name("SIZE");
    auto* mb_pw =
        ctl::command(mailbox, "passwd", "set a mailbox's password (read from stdin)", ctx, [&] {
            auto db = open_db(o);
            db.set_password(o.address, read_password());
        });
    mb_pw->add_option("ADDRESS", o.address, "user@domain")->required();
    mb_pw->add_flag("--password-stdin", o.password_stdin, "read the password from standard input")
        ->required();
    ctl::command(mailbox, "list", "list mailboxes: address, quota, enabled|disabled", ctx, [&] {
        cmd_mailbox_list(o);
    })->add_option("DOMAIN", o.domain, "only this domain");
    ctl::command(mailbox, "remove", "remove a mailbox (its Maildir is kept on disk)", ctx,
                 [&] { open_db(o).remove_mailbox(o.address); })
        ->add_option("ADDRESS", o.address, "user@domain")
        ->required();

    auto* fwd = app.add_subcommand("forwarder", "manage forwarders (aliases) and catch-alls");
    fwd->require_subcommand(1);
    auto* fw_add = ctl::command(
        fwd, "add", "forward ADDRESS to DEST...; adding to an existing forwarder appends", ctx,
        [&] { open_db(o).add_forwarder(o.address, o.destinations); });
    fw_add->add_option("ADDRESS", o.address, "user@domain, or @domain for a catch-all")->required();
    fw_add->add_option("DEST", o.destinations, "destination addresses, local or remote")
        ->required();
    ctl::command(fwd, "list", "list forwarders: source, comma-separated destinations", ctx, [&] {
        cmd_forwarder_list(o);
    })->add_option("DOMAIN", o.domain, "only this domain");
    ctl::command(fwd, "remove", "remove a forwarder and all its destinations", ctx,
                 [&] { open_db(o).remove_forwarder(o.address); })
        ->add_option("ADDRESS", o.address, "user@domain or @domain")
        ->required();

    auto* setting = app.add_subcommand("setting", "read or change a config.db setting");
    setting->require_subcommand(1);
    std::string keys;
    for (const auto& s : config::config_db::known_settings())
        keys += "\n  " + std::string(s.key) + ": " + std::string(s.doc);
    setting->footer("Settings:" + keys + "\n");
    ctl::command(setting, "get", "print a setting's value (empty line when unset)", ctx,
                 [&] { cmd_setting_get(o); })
        ->add_option("KEY", o.key, "setting name")
        ->required();
    auto* set = ctl::command(setting, "set", "change a setting", ctx,
                             [&] { open_db(o).set_setting(o.key, o.value); });
    set->add_option("KEY", o.key, "setting name")->required();
    set->add_option("VALUE", o.value, "new value (\"\" to clear where allowed)")->required();

    ctl::register_dkim_commands(app, ctx);
    ctl::register_provision_commands(app, ctx);
    ctl::register_queue_commands(app, ctx);
    ctl::register_sending_commands(app, ctx);
    ctl::register_autoreply_commands(app, ctx);
    ctl::register_spam_commands(app, ctx);
    ctl::register_admin_commands(app, ctx);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e); // --help
        std::cerr << "carteroctl: " << usage_message(app, e) << '\n';
        return 2;
    }
    try {
        if (ctx.run) ctx.run();
        return 0;
    } catch (const usage_error& e) {
        std::cerr << "carteroctl: " << e.what() << '\n';
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "carteroctl: " << e.what() << '\n';
        return 1;
    }
}
