// daemon/app/main.cpp — carterod's entry point: flags, settings, then run the daemon.
#include "daemon/app/carterod.hpp"
#include "daemon/app/options.hpp"

#include "core/log.hpp"

#include <cstdio>
#include <exception>
#include <iostream>

int main(int argc, char** argv) {
    using namespace cartero;
    app::options opts;
    if (auto problem = app::parse_options(argc, argv, opts); !problem.empty()) {
        std::fprintf(stderr, "carterod: %s\n", problem.c_str());
        return 2;
    }
    if (opts.help) {
        std::cout << app::usage();
        return 0;
    }
    if (opts.version) {
        std::cout << "carterod 0.1.0\n";
        return 0;
    }
    try {
        return app::run_daemon(opts);
    } catch (const std::exception& e) {
        log::error("fatal", {{"error", e.what()}});
        std::fprintf(stderr, "carterod: %s\n", e.what());
        return 1;
    }
}
