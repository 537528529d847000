// daemon/app/carterod.hpp — wiring of carterod: queue, delivery, listeners, reloads, signals.
#pragma once

#include "daemon/app/options.hpp"

namespace cartero::app {

// Runs until SIGTERM/SIGINT; returns the exit status. Throws on start-up failures (the
// message names what is wrong: a missing state dir, a port in use, a bad settings line).
int run_daemon(const options& opts);

} // namespace cartero::app
