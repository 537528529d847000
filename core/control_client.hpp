// core/control_client.hpp — a blocking client of carterod's control socket (carteroctl, panel).
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace cartero::control {

// One connection; calls are sequential (one request, then its response). Not thread-safe: the
// panel keeps one per worker or connects per request (connecting costs a few microseconds).
// Every failure is a std::runtime_error whose text can be shown as is:
//   "carterod is not running (no control socket at <path>)"   (also: nothing listens on it)
//   "cannot reach carterod's control socket <path>: Permission denied"
//   the server's own error text (e.g. "no message X in the queue ...")
//   "carterod did not answer <op> within 10 s" / "carterod closed the control connection"
class control_client {
public:
    static control_client connect(const std::string& state_dir,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(10));
    control_client(control_client&& o) noexcept;
    control_client& operator=(control_client&& o) noexcept;
    control_client(const control_client&) = delete;
    control_client& operator=(const control_client&) = delete;
    ~control_client();

    // Sends {"id", "op", "args"} and returns the response's "result"; throws as above.
    nlohmann::json call(std::string_view op, const nlohmann::json& args = nlohmann::json::object());

private:
    control_client(int fd, std::string path, std::chrono::milliseconds timeout);
    void send_all(std::string_view data, std::chrono::steady_clock::time_point deadline,
                  std::string_view op);
    std::string read_line(std::chrono::steady_clock::time_point deadline, std::string_view op);

    int fd_ = -1;
    std::string path_;
    std::chrono::milliseconds timeout_;
    std::int64_t next_id_ = 1;
    std::string buf_; // bytes after the last line read
};

} // namespace cartero::control
