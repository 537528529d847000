// provisioning/cli_common.hpp — what every carteroctl command group shares: the state dir,
// opening config.db, the error kinds that decide the exit status, and group registration.
#pragma once

#include "core/config_db.hpp"

#include <CLI/CLI.hpp>

#include <functional>
#include <stdexcept>
#include <string>

namespace cartero::ctl {

// A failure that is the user's wording (exit 2), not the operation's (exit 1).
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// What main() hands to each command group: the parsed --state-dir, and the slot where a
// subcommand's callback stores the action to run after parsing (so parse errors run nothing).
struct cli_context {
    std::string state_dir;
    std::function<void()> run;

    // --state-dir (or CARTERO_STATE_DIR), or a usage_error saying how to give it.
    const std::string& require_state_dir() const;
    // config.db of an initialised state dir, or an error that says to run init.
    config::config_db open_config() const;
};

// Attaches subcommand `name` whose `action` runs after a successful parse.
CLI::App* command(CLI::App* parent, const char* name, const char* doc, cli_context& ctx,
                  std::function<void()> action);

// --password-stdin and friends: one line from stdin without its newline; empty is refused.
std::string read_secret_line(const char* what);

// Command groups, one file each (main.cpp calls every one of them):
void register_dkim_commands(CLI::App& app, cli_context& ctx);      // cmd_dkim.cpp
void register_provision_commands(CLI::App& app, cli_context& ctx); // cmd_provision.cpp
void register_queue_commands(CLI::App& app, cli_context& ctx);     // cmd_queue.cpp
void register_sending_commands(CLI::App& app, cli_context& ctx);   // cmd_sending.cpp
void register_autoreply_commands(CLI::App& app, cli_context& ctx); // cmd_autoreply.cpp (+ greylist)
void register_spam_commands(CLI::App& app, cli_context& ctx);      // cmd_spam.cpp
void register_admin_commands(CLI::App& app, cli_context& ctx);     // cmd_admin.cpp
// Adds admin `username` with a random password (init) and returns the password.
std::string create_initial_admin(config::config_db& db, const std::string& username);

} // namespace cartero::ctl
