// provisioning/cmd_admin.cpp — carteroctl's "admin" group: panel admins and their API tokens
// (core/admin_store), and the initial admin that `init` creates.
#include "core/admin_store.hpp"
#include "provisioning/cli_common.hpp"

#include <unistd.h>

#include <iostream>

namespace cartero::ctl {

namespace {

struct admin_options {
    std::string name;
    std::string label;
    bool password_stdin = false;
};

void cmd_list(cli_context& ctx) {
    auto db = ctx.open_config();
    if (::isatty(STDOUT_FILENO)) std::cout << "USERNAME\tTOTP\tTOKENS\n";
    for (const auto& a : admin::list_admins(db))
        std::cout << a.username << '\t' << (a.totp_enabled ? "on" : "off") << '\t' << a.tokens
                  << '\n';
}

} // namespace

std::string create_initial_admin(config::config_db& db, const std::string& username) {
    const std::string pw = admin::random_password();
    admin::add_admin(db, username, pw);
    return pw;
}

void register_admin_commands(CLI::App& app, cli_context& ctx) {
    static admin_options o; // lives as long as the CLI (main's lifetime)
    auto* grp = app.add_subcommand("admin", "manage panel admins and their API tokens");
    grp->require_subcommand(1);

    auto* add = command(grp, "add", "add a panel admin (the password is read from stdin)", ctx, [&] {
        auto db = ctx.open_config();
        admin::add_admin(db, o.name, read_secret_line("password"));
    });
    add->add_option("NAME", o.name, "username: letters, digits and . _ @ + -")->required();
    add->add_flag("--password-stdin", o.password_stdin, "read the password from standard input")
        ->required();

    auto* pw = command(grp, "passwd", "set an admin's password (read from stdin); ends its sessions",
                       ctx, [&] {
                           auto db = ctx.open_config();
                           admin::set_admin_password(db, o.name, read_secret_line("password"));
                       });
    pw->add_option("NAME", o.name, "username")->required();
    pw->add_flag("--password-stdin", o.password_stdin, "read the password from standard input")
        ->required();

    auto* tok = command(grp, "token",
                        "issue an API token for NAME and print it (only its hash is stored)", ctx,
                        [&] {
                            auto db = ctx.open_config();
                            std::cout << admin::create_token(db, o.name, o.label) << '\n';
                        });
    tok->add_option("NAME", o.name, "username")->required();
    tok->add_option("--label", o.label, "what the token is for (shown nowhere secret)");

    command(grp, "revoke-tokens", "revoke every API token of NAME", ctx, [&] {
        auto db = ctx.open_config();
        std::cout << admin::revoke_tokens(db, o.name) << " token(s) revoked\n";
    })->add_option("NAME", o.name, "username")->required();

    command(grp, "list", "list admins: username, TOTP on|off, API tokens", ctx,
            [&] { cmd_list(ctx); });
    command(grp, "remove", "remove an admin, its tokens and sessions (not the last admin)", ctx,
            [&] {
                auto db = ctx.open_config();
                admin::remove_admin(db, o.name);
            })
        ->add_option("NAME", o.name, "username")
        ->required();
}

} // namespace cartero::ctl
