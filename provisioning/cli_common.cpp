// provisioning/cli_common.cpp — shared helpers of carteroctl's command groups.
#include "provisioning/cli_common.hpp"

#include "provisioning/state_dir.hpp"

#include <iostream>
#include <sys/stat.h>

namespace cartero::ctl {

const std::string& cli_context::require_state_dir() const {
    if (state_dir.empty())
        throw usage_error("no state directory; give --state-dir DIR or set CARTERO_STATE_DIR");
    return state_dir;
}

config::config_db cli_context::open_config() const {
    const std::string& dir = require_state_dir();
    std::string path = dir + "/" + config_db_name;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0)
        throw std::runtime_error(dir + " is not initialised (no " + config_db_name +
                                 "); run: carteroctl --state-dir " + dir + " init --hostname NAME");
    return config::config_db(path, false);
}

CLI::App* command(CLI::App* parent, const char* name, const char* doc, cli_context& ctx,
                  std::function<void()> action) {
    CLI::App* sub = parent->add_subcommand(name, doc);
    sub->callback([&ctx, action] { ctx.run = action; });
    return sub;
}

std::string read_secret_line(const char* what) {
    std::string line;
    if (!std::getline(std::cin, line) && line.empty())
        throw std::runtime_error(std::string("no ") + what +
                                 " on standard input (one line is read)");
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) throw std::runtime_error(std::string("the ") + what + " is empty");
    return line;
}

} // namespace cartero::ctl
