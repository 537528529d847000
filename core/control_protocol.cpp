// core/control_protocol.cpp — framing, validation and the op table of the control socket.
#include "core/control_protocol.hpp"

#include <sys/un.h>

#include <algorithm>

namespace cartero::control {

using json = nlohmann::json;

std::string socket_path(std::string_view state_dir) {
    std::string p(state_dir);
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    p += "/";
    p += socket_name;
    if (p.size() >= sizeof(sockaddr_un{}.sun_path))
        throw std::runtime_error("control socket path " + p + " is longer than " +
                                 std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
                                 " bytes (a Unix socket limit); use a shorter state directory");
    return p;
}

const std::vector<op_info>& known_ops() {
    static const std::vector<op_info> ops = {
        {"status", "", "version, uptime, messages accepted, queue counts by state and kind"},
        {"queue.list", "state, kind, sender, recipient, held, limit (1-1000), offset",
         "messages in the queue with their recipients, oldest first"},
        {"queue.show", "id", "one message: metadata, header section, recipients, delivery log"},
        {"queue.hold", "id", "hold a message: nothing of it is delivered until released"},
        {"queue.release", "id", "release a held message"},
        {"queue.retry", "id", "try its queued and deferred recipients now"},
        {"queue.delete", "id", "remove a message; its undelivered recipients are logged failed"},
        {"queue.bounce", "id", "fail its undelivered recipients (550 5.0.0) and bounce them"},
        {"log.search", "query (address, queue id or Message-ID), since, until, limit (1-1000)",
         "delivery-log rows, newest first"},
        {"suppression.list", "limit (1-1000), offset", "the suppression list"},
        {"suppression.add", "address, reason", "refuse an address as a recipient"},
        {"suppression.remove", "address", "accept an address again"},
        {"destinations", "",
         "outbound destinations (recipient domain x source IP): queued, connections, limits, "
         "paused until, why, and the reply that caused the pause"},
        {"stats", "",
         "delivery-log rows by result over the last 24 h and 7 days, hourly and daily"},
        {"bounces", "class, since, limit (1-1000)",
         "failed and bounced delivery-log rows with the remote reply, and counts per class"},
    };
    return ops;
}

const op_info* find_op(std::string_view name) {
    for (const auto& o : known_ops())
        if (o.name == name) return &o;
    return nullptr;
}

namespace {

// Nesting depth of a JSON text, strings skipped; a cheap guard before the parser sees it.
int nesting_depth(std::string_view s) {
    int depth = 0, max_depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') in_string = true;
        else if (c == '[' || c == '{') max_depth = std::max(max_depth, ++depth);
        else if (c == ']' || c == '}') --depth;
    }
    return max_depth;
}

std::string dump(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A printable, bounded rendering of something a client sent, for error texts.
std::string shown(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 64)) {
        const auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u == 0x7f) ? '?' : c;
    }
    if (s.size() > 64) out += "...";
    return out;
}

std::string op_names() {
    std::string out;
    for (const auto& o : known_ops()) out += (out.empty() ? "" : ", ") + std::string(o.name);
    return out;
}

} // namespace

std::variant<request, request_error> parse_request(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > max_request_bytes)
        return request_error{nullptr,
                             "request line longer than " + std::to_string(max_request_bytes) +
                                 " bytes; closing the connection",
                             true};
    if (line.find_first_not_of(" \t") == std::string_view::npos)
        return request_error{nullptr, "empty request line; send one JSON object per line", false};
    if (nesting_depth(line) > max_request_depth)
        return request_error{nullptr, "request nested deeper than " +
                                          std::to_string(max_request_depth) +
                                          " levels; closing the connection",
                             true};
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded())
        return request_error{nullptr, "request is not valid JSON; closing the connection", true};
    if (!j.is_object())
        return request_error{nullptr,
                             "request must be a JSON object {\"id\": N, \"op\": ..., \"args\": {...}}",
                             false};
    request r;
    auto id = j.find("id");
    if (id == j.end() || !id->is_number_integer())
        return request_error{nullptr, "request needs \"id\": an integer, echoed in the response",
                             false};
    r.id = *id;
    for (const auto& [key, value] : j.items()) {
        if (key != "id" && key != "op" && key != "args")
            return request_error{r.id, "unknown request field \"" + shown(key) +
                                           "\"; a request has id, op and args",
                                 false};
    }
    auto op = j.find("op");
    if (op == j.end() || !op->is_string())
        return request_error{r.id, "request needs \"op\": a string (one of " + op_names() + ")",
                             false};
    r.op = op->get<std::string>();
    if (!find_op(r.op))
        return request_error{r.id, "unknown op \"" + shown(r.op) + "\"; known ops: " + op_names(),
                             false};
    auto args = j.find("args");
    if (args != j.end() && !args->is_null()) {
        if (!args->is_object())
            return request_error{r.id, r.op + ": \"args\" must be a JSON object", false};
        r.args = std::move(*args);
    }
    return r;
}

std::string ok_line(const json& id, const json& result) {
    return dump(json{{"id", id}, {"ok", true}, {"result", result}}) + "\n";
}

std::string error_line(const json& id, std::string_view message) {
    // One line a person can act on: no newline may split it.
    std::string text(message);
    std::replace(text.begin(), text.end(), '\n', ' ');
    std::replace(text.begin(), text.end(), '\r', ' ');
    return dump(json{{"id", id}, {"ok", false}, {"error", text}}) + "\n";
}

std::string request_line(std::int64_t id, std::string_view op, const json& args) {
    return dump(json{{"id", id}, {"op", op}, {"args", args}}) + "\n";
}

response parse_response(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    json j = json::parse(line, nullptr, false);
    auto bad = [](const std::string& why) {
        return std::runtime_error("malformed response from carterod: " + why);
    };
    if (j.is_discarded() || !j.is_object()) throw bad("not a JSON object");
    response r;
    r.id = j.value("id", json());
    auto ok = j.find("ok");
    if (ok == j.end() || !ok->is_boolean()) throw bad("no \"ok\" boolean");
    r.ok = ok->get<bool>();
    if (r.ok) {
        r.result = j.value("result", json());
    } else {
        auto e = j.find("error");
        if (e == j.end() || !e->is_string()) throw bad("an error without its text");
        r.error = e->get<std::string>();
    }
    return r;
}

args_reader::args_reader(std::string_view op, const json& args) : op_(op), args_(args) {}

void args_reader::fail(const char* name, std::string_view what) const {
    throw args_error(op_ + ": \"" + name + "\" " + std::string(what));
}

const json* args_reader::get(const char* name) {
    seen_.emplace_back(name);
    if (!args_.is_object()) return nullptr;
    auto it = args_.find(name);
    if (it == args_.end() || it->is_null()) return nullptr;
    return &*it;
}

std::optional<std::string> args_reader::string(const char* name, std::size_t max_len) {
    const json* v = get(name);
    if (!v) return std::nullopt;
    if (!v->is_string()) fail(name, "must be a string");
    const auto& s = v->get_ref<const std::string&>();
    if (s.size() > max_len) fail(name, "is longer than " + std::to_string(max_len) + " bytes");
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) fail(name, "must not contain control characters");
    }
    return s;
}

std::string args_reader::required_string(const char* name, std::size_t max_len) {
    auto s = string(name, max_len);
    if (!s || s->empty()) fail(name, "is required");
    return *s;
}

std::optional<bool> args_reader::boolean(const char* name) {
    const json* v = get(name);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) fail(name, "must be true or false");
    return v->get<bool>();
}

std::optional<std::int64_t> args_reader::integer(const char* name, std::int64_t min,
                                                 std::int64_t max) {
    const json* v = get(name);
    if (!v) return std::nullopt;
    const std::string range =
        "must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
    if (!v->is_number_integer()) fail(name, range);
    std::int64_t n = 0;
    if (v->is_number_unsigned()) {
        const auto u = v->get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(max)) fail(name, range);
        n = static_cast<std::int64_t>(u);
    } else {
        n = v->get<std::int64_t>();
    }
    if (n < min || n > max) fail(name, range);
    return n;
}

void args_reader::finish() {
    if (!args_.is_object()) return;
    for (const auto& [key, value] : args_.items()) {
        if (std::find(seen_.begin(), seen_.end(), key) == seen_.end()) {
            std::string known;
            for (const auto& s : seen_) known += (known.empty() ? "" : ", ") + s;
            throw args_error(op_ + ": unknown argument \"" + shown(key) + "\"" +
                             (known.empty() ? std::string("; it takes none")
                                            : "; it takes " + known));
        }
    }
}

} // namespace cartero::control
