// daemon/app/options.cpp — flag parsing and the settings file + flags merge.
#include "daemon/app/options.hpp"

#include "core/dns/forwarder.hpp"

#include <cstdlib>
#include <filesystem>
#include <string_view>
#include <unistd.h>

namespace cartero::app {

std::string usage() {
    return "usage: carterod --state-dir DIR [--listen KIND=ADDR:PORT]... "
           "[--trusted-network CIDR]... [--relayhost HOST:PORT]\n"
           "                [--resolver ADDR:PORT]\n"
           "\n"
           "  --state-dir DIR            state directory made by `carteroctl init` (or env\n"
           "                             CARTERO_STATE_DIR); settings come from DIR/carterod.conf\n"
           "  --listen KIND=ADDR:PORT    listener, KIND smtp|submission|smtps, ADDR IPv4 or [IPv6];\n"
           "                             repeatable; replaces the file's listeners\n"
           "  --trusted-network CIDR     clients allowed to relay without AUTH; repeatable;\n"
           "                             replaces the file's list (default: none)\n"
           "  --relayhost HOST:PORT      send all outbound mail through this next hop\n"
           "  --resolver ADDR:PORT       send every DNS query to this server (127.0.0.1:53,\n"
           "                             [::1]:53); default: the file's, else /etc/resolv.conf\n"
           "  --help, --version\n"
           "\n"
           "Signals: SIGHUP re-reads the settings file; SIGTERM stops accepting, finishes or\n"
           "421s the sessions and exits with nothing accepted lost.\n";
}

std::string parse_options(int argc, char** argv, options& out) {
    if (const char* env = std::getenv("CARTERO_STATE_DIR")) out.state_dir = env;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        std::string_view value;
        bool has_value = false;
        if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
            value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
            has_value = true;
        }
        auto need = [&](std::string_view& v) -> bool {
            if (has_value) {
                v = value;
                return true;
            }
            if (i + 1 >= argc) return false;
            v = argv[++i];
            return true;
        };
        std::string_view v;
        if (arg == "--help" || arg == "-h") {
            out.help = true;
        } else if (arg == "--version") {
            out.version = true;
        } else if (arg == "--state-dir") {
            if (!need(v)) return "--state-dir needs a directory";
            out.state_dir = v;
        } else if (arg == "--listen") {
            if (!need(v)) return "--listen needs KIND=ADDR:PORT";
            auto p = config::parse_listen_spec(v);
            if (!p.ok) return "--listen " + std::string(v) + ": " + p.error;
            out.listen.push_back(p.value);
        } else if (arg == "--trusted-network") {
            if (!need(v)) return "--trusted-network needs a CIDR";
            auto p = config::parse_cidr(v);
            if (!p.ok) return "--trusted-network " + std::string(v) + ": " + p.error;
            out.trusted_network.push_back(p.value);
        } else if (arg == "--relayhost") {
            if (!need(v)) return "--relayhost needs HOST:PORT";
            auto p = config::parse_host_port(v);
            if (!p.ok) return "--relayhost " + std::string(v) + ": " + p.error;
            out.relayhost = p.value;
        } else if (arg == "--resolver") {
            if (!need(v)) return "--resolver needs ADDR:PORT";
            if (v.empty()) {
                out.resolver = std::string(); // the system resolver, whatever the file says
            } else {
                auto p = dns::parse_forwarder(v);
                if (!p.ok) return "--resolver: " + p.error;
                out.resolver = p.value.to_string();
            }
        } else {
            return "unknown argument '" + std::string(argv[i]) + "' (see --help)";
        }
    }
    if (!out.help && !out.version && out.state_dir.empty())
        return "--state-dir is required (or set CARTERO_STATE_DIR)";
    return {};
}

std::vector<std::string> load_settings(const options& o, config::daemon_settings& out) {
    namespace fs = std::filesystem;
    out = config::daemon_settings{};
    std::vector<std::string> errors;
    const fs::path dir = fs::absolute(o.state_dir);
    const fs::path file = dir / "carterod.conf";
    if (fs::exists(file)) errors = config::parse_settings_file(file.string(), out);
    if (!o.listen.empty()) out.listen = o.listen;
    if (!o.trusted_network.empty()) out.trusted_network = o.trusted_network;
    if (o.relayhost) out.relayhost = o.relayhost;
    if (o.resolver) out.resolver = *o.resolver;
    auto absolute = [&](std::string& p) {
        if (!p.empty() && fs::path(p).is_relative()) p = (dir / p).lexically_normal().string();
    };
    absolute(out.tls_certificate);
    absolute(out.tls_key);
    absolute(out.mail_root);
    if (out.hostname.empty()) {
        char buf[256] = {};
        ::gethostname(buf, sizeof buf - 1);
        out.hostname = buf[0] ? buf : "localhost";
    }
    return errors;
}

} // namespace cartero::app
