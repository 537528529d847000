// provisioning/cmd_provision.cpp — carteroctl's "provision" command group (being written).
#include "provisioning/cli_common.hpp"

namespace cartero::ctl {

void register_provision_commands(CLI::App&, cli_context&) {}

} // namespace cartero::ctl
