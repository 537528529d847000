// daemon/app/options.hpp — carterod's command line: flags that override carterod.conf.
#pragma once

#include "core/daemon_settings.hpp"

#include <optional>
#include <string>
#include <vector>

namespace cartero::app {

struct options {
    std::string state_dir;
    std::vector<config::listen_spec> listen;   // non-empty: replaces the file's listeners
    std::vector<config::cidr> trusted_network; // non-empty: replaces the file's list
    std::optional<config::host_port> relayhost;
    std::optional<std::string> resolver; // canonical "ADDR:PORT"; "" = the system resolver
    bool help = false;
    bool version = false;
};

// Parses argv; on a problem returns it as one line (the caller prints it and exits 2).
std::string parse_options(int argc, char** argv, options& out);
std::string usage();

// The file's settings with the flags applied on top; paths made absolute against the state dir.
std::vector<std::string> load_settings(const options& o, config::daemon_settings& out);

} // namespace cartero::app
