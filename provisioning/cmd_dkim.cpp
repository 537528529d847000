// provisioning/cmd_dkim.cpp — carteroctl's "dkim" command group (being written).
#include "provisioning/cli_common.hpp"

namespace cartero::ctl {

void register_dkim_commands(CLI::App&, cli_context&) {}

} // namespace cartero::ctl
