// webui/main.cpp — cartero-panel: flags, the state dir's settings (TLS files, mail root,
// resolver from carterod.conf), signals, and the server loop.
#include "core/daemon_settings.hpp"
#include "core/log.hpp"
#include "webui/panel_app.hpp"
#include "webui/server.hpp"

#include <CLI/CLI.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <iostream>

namespace {

volatile bool g_stop = false;
extern "C" void on_signal(int) { g_stop = true; }

std::string under(const std::string& dir, const std::string& p) {
    if (p.empty() || p.front() == '/') return p;
    return dir + "/" + p;
}

// The front end's files: --static-dir, else <prefix>/share/cartero/webui next to an installed
// binary, else the source tree's webui/static (a build-dir run).
std::string default_static_dir() {
    std::error_code ec;
    auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        auto installed = exe.parent_path().parent_path() / "share/cartero/webui";
        if (std::filesystem::is_directory(installed, ec)) return installed.string();
    }
    return CARTERO_WEBUI_SOURCE_STATIC;
}

} // namespace

int main(int argc, char** argv) {
    using namespace cartero;
    std::string state_dir, static_dir;
    std::vector<std::string> listen, redirect;
    webui::panel_config cfg;
    int threads = 8;
    CLI::App app{"cartero-panel: the Cartero admin panel (HTTPS, JSON API, static front end)",
                 "cartero-panel"};
    app.add_option("--state-dir", state_dir, "state directory (config.db, carterod.conf, tls/)")
        ->required()
        ->envname("CARTERO_STATE_DIR");
    // Repeatable: several addresses, e.g. 0.0.0.0:443 and [::]:443 (IPv6 needs a CivetWeb built
    // with USE_IPV6; server.cpp refuses it otherwise).
    app.add_option("--listen", listen,
                   "HTTPS address ADDR:PORT or [IPV6]:PORT, repeatable (default 0.0.0.0:443)")
        ->allow_extra_args(false);
    app.add_option("--redirect-listen", redirect,
                   "plain-HTTP ADDR:PORT or [IPV6]:PORT that only redirects to HTTPS, repeatable")
        ->allow_extra_args(false);
    app.add_option("--static-dir", static_dir, "the front end's files");
    app.add_option("--threads", threads, "worker threads (default 8)")->check(CLI::Range(2, 64));
    app.add_option("--login-max-failures-account", cfg.account_throttle.max_failures,
                   "failed logins for one account that lock it (default 5)")->check(CLI::Range(1, 1000));
    app.add_option("--login-max-failures-ip", cfg.ip_throttle.max_failures,
                   "failed logins from one address that lock it (default 20)")->check(CLI::Range(1, 100000));
    std::int64_t lockout = 900;
    app.add_option("--lockout-seconds", lockout, "how long a locked account or address waits (default 900)")
        ->check(CLI::Range(1, 86400));
    app.add_option("--session-idle-seconds", cfg.session_idle_seconds, "session idle expiry (default 1800)")
        ->check(CLI::Range(10, 86400));
    app.add_option("--session-max-seconds", cfg.session_max_seconds, "session absolute expiry (default 43200)")
        ->check(CLI::Range(10, 30 * 86400));
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    cfg.account_throttle.lockout_seconds = cfg.ip_throttle.lockout_seconds = lockout;
    cfg.account_throttle.window_seconds = cfg.ip_throttle.window_seconds = std::max<std::int64_t>(lockout, 900);

    try {
        while (state_dir.size() > 1 && state_dir.back() == '/') state_dir.pop_back();
        if (::access((state_dir + "/config.db").c_str(), R_OK | W_OK) != 0)
            throw std::runtime_error(state_dir + "/config.db is missing or not writable; run: "
                                     "carteroctl --state-dir " + state_dir + " init --hostname NAME");
        config::daemon_settings ds;
        const auto conf = state_dir + "/carterod.conf";
        if (::access(conf.c_str(), F_OK) == 0) {
            auto errors = config::parse_settings_file(conf, ds);
            if (!errors.empty()) {
                for (const auto& e : errors) std::cerr << "cartero-panel: " << e << '\n';
                return 1;
            }
        }
        cfg.state_dir = state_dir;
        cfg.mail_root = under(state_dir, ds.mail_root);
        cfg.resolver = ds.resolver;
        cfg.static_dir = static_dir.empty() ? default_static_dir() : static_dir;
        webui::server_settings ss;
        ss.listen = listen.empty() ? std::vector<std::string>{"0.0.0.0:443"} : listen;
        ss.redirect_listen = redirect;
        ss.tls_certificate = under(state_dir, ds.tls_certificate);
        ss.tls_key = under(state_dir, ds.tls_key);
        ss.threads = threads;

        struct sigaction sa {};
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, nullptr);
        sigaction(SIGTERM, &sa, nullptr);
        std::signal(SIGPIPE, SIG_IGN);

        webui::panel_app panel(cfg);
        webui::run_server(panel, ss, g_stop);
        log::info("panel_stopped");
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "cartero-panel: " << e.what() << '\n';
        return 1;
    }
}
