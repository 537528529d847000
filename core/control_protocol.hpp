// core/control_protocol.hpp — carterod's control-socket protocol: one JSON object per line each
// way, the op table, request/response framing and argument checking (shared by the server in
// daemon/control, carteroctl and the panel through control_client).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cartero::control {

// <state-dir>/control.sock: a Unix stream socket, mode 0660; the state dir's permissions decide
// who reaches it (carterod's user and its group: the panel, the admin's carteroctl).
inline constexpr std::string_view socket_name = "control.sock";
// A request line longer than this (without its '\n') is refused and the connection closed.
inline constexpr std::size_t max_request_bytes = 1024 * 1024;
// Nesting deeper than this is refused before parsing (no request needs more than 3).
inline constexpr int max_request_depth = 16;
// What a client accepts from the server (a 1000-row listing with replies fits easily).
inline constexpr std::size_t max_response_bytes = 64 * 1024 * 1024;

// "<state_dir>/control.sock". Throws std::runtime_error when the path does not fit in
// sockaddr_un (108 bytes): the text says so and names the path.
std::string socket_path(std::string_view state_dir);

// One operation of the protocol (the server's dispatch table is built over these names).
struct op_info {
    std::string_view name;
    std::string_view args; // one line: the arguments it takes
    std::string_view doc;
};
const std::vector<op_info>& known_ops();
const op_info* find_op(std::string_view name);

// A well-formed request: {"id": <integer>, "op": "<known op>", "args": {...}} ("args" optional).
struct request {
    nlohmann::json id; // an integer, echoed in the response
    std::string op;
    nlohmann::json args = nlohmann::json::object();
};

// A line that is not a request. `id` is the request's id when it could be read (else null);
// `close`: the stream can no longer be trusted (too long, not JSON): answer, then close.
struct request_error {
    nlohmann::json id;
    std::string message;
    bool close = false;
};

// Parses one line (without its '\n'; a trailing '\r' is ignored). Never throws.
std::variant<request, request_error> parse_request(std::string_view line);

// Response lines, each ending in '\n'. Invalid UTF-8 in strings (a remote server's reply) is
// replaced by U+FFFD, never a reason to fail.
std::string ok_line(const nlohmann::json& id, const nlohmann::json& result);
std::string error_line(const nlohmann::json& id, std::string_view message);
std::string request_line(std::int64_t id, std::string_view op, const nlohmann::json& args);

struct response {
    nlohmann::json id;
    bool ok = false;
    nlohmann::json result; // ok
    std::string error;     // !ok
};
// Throws std::runtime_error("malformed response from carterod: ...") when the line is not one.
response parse_response(std::string_view line);

// An argument that is missing, of the wrong type or out of range; the text names the op and
// the argument ("queue.list: \"limit\" must be an integer from 1 to 1000").
struct args_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Typed reads of a request's args; every read marks the name as known, and finish() refuses
// the names nobody read (a typo must not be silently ignored).
class args_reader {
public:
    args_reader(std::string_view op, const nlohmann::json& args);
    // Strings: at most max_len bytes, no control characters.
    std::optional<std::string> string(const char* name, std::size_t max_len = 998);
    std::string required_string(const char* name, std::size_t max_len = 998);
    std::optional<bool> boolean(const char* name);
    std::optional<std::int64_t> integer(const char* name, std::int64_t min, std::int64_t max);
    void finish();

private:
    [[noreturn]] void fail(const char* name, std::string_view what) const;
    const nlohmann::json* get(const char* name);

    std::string op_;
    const nlohmann::json& args_;
    std::vector<std::string> seen_;
};

} // namespace cartero::control
