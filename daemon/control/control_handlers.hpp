// daemon/control/control_handlers.hpp — the control socket's dispatch table: one handler per op,
// each checking its args and turning queue_admin results into JSON. No sockets here.
#pragma once

#include "core/control_protocol.hpp"
#include "daemon/queue/queue_admin.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace cartero::control {

// What "status" reports besides the queue (filled by carterod's wiring).
struct daemon_status {
    std::string version;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    std::int64_t started_at = 0; // unix seconds
    std::function<std::uint64_t()> messages_accepted; // may be empty (reported as 0)
    std::function<std::size_t()> control_clients;     // may be empty
    // The outbound scheduler's destinations as a JSON array (op "destinations"); called on a
    // handler thread, so it must hand over to the scheduler's thread itself. May be empty.
    std::function<nlohmann::json()> destinations;
};

class handlers {
public:
    handlers(queue::queue_admin& admin, daemon_status status);

    // Runs one request and returns its response line ('\n'-terminated), ok or error. Blocking
    // (SQLite reads, waits for the writer): call it off the io thread. Never throws: bad args
    // and admin refusals become their own text; internal failures are logged and answered
    // "internal error in <op>: <what>".
    std::string handle(const request& r);

private:
    using fn = nlohmann::json (handlers::*)(args_reader&);
    struct entry {
        std::string_view op;
        fn run;
    };
    static const entry table_[];

    nlohmann::json status(args_reader& a);
    nlohmann::json queue_list(args_reader& a);
    nlohmann::json queue_show(args_reader& a);
    nlohmann::json queue_hold(args_reader& a);
    nlohmann::json queue_release(args_reader& a);
    nlohmann::json queue_retry(args_reader& a);
    nlohmann::json queue_delete(args_reader& a);
    nlohmann::json queue_bounce(args_reader& a);
    nlohmann::json log_search(args_reader& a);
    nlohmann::json suppression_list(args_reader& a);
    nlohmann::json suppression_add(args_reader& a);
    nlohmann::json suppression_remove(args_reader& a);
    nlohmann::json destinations(args_reader& a);
    nlohmann::json stats(args_reader& a);
    nlohmann::json bounces(args_reader& a);

    queue::queue_admin& admin_;
    daemon_status status_;
};

} // namespace cartero::control
