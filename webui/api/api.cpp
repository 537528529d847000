// webui/api/api.cpp — body parsing, typed field reads, error mapping and JSON responses.
#include "webui/api/api.hpp"

namespace cartero::webui {

const json& api_call::body() {
    if (body_) return *body_;
    auto ct = req.header("content-type");
    auto semi = ct.find(';');
    auto type = ct.substr(0, semi);
    while (!type.empty() && type.back() == ' ') type.pop_back();
    for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (type != "application/json")
        throw api_error(415, "send the request body as JSON (Content-Type: application/json)");
    json j = json::parse(req.body, nullptr, false);
    if (j.is_discarded()) throw api_error(400, "the request body is not valid JSON");
    if (!j.is_object()) throw api_error(400, "the request body must be a JSON object");
    body_ = std::move(j);
    return *body_;
}

const json* body_reader::raw(const char* name) {
    seen_.insert(name);
    auto it = j_.find(name);
    return it == j_.end() ? nullptr : &*it;
}

bool body_reader::is_null(const char* name) const {
    auto it = j_.find(name);
    return it != j_.end() && it->is_null();
}

std::optional<std::string> body_reader::string(const char* name, std::size_t max_len) {
    auto v = raw(name);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_string()) throw api_error(400, std::string(name) + " must be a string", name);
    auto s = v->get<std::string>();
    if (s.size() > max_len)
        throw api_error(422, std::string(name) + " is longer than " + std::to_string(max_len) +
                                 " bytes", name);
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7f)
            throw api_error(422, std::string(name) + " contains a control character", name);
    return s;
}

std::string body_reader::required_string(const char* name, std::size_t max_len) {
    auto s = string(name, max_len);
    if (!s) throw api_error(400, std::string(name) + " is required", name);
    return *s;
}

std::optional<bool> body_reader::boolean(const char* name) {
    auto v = raw(name);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_boolean()) throw api_error(400, std::string(name) + " must be true or false", name);
    return v->get<bool>();
}

std::optional<std::int64_t> body_reader::integer(const char* name, std::int64_t min,
                                                 std::int64_t max) {
    auto v = raw(name);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_number_integer())
        throw api_error(400, std::string(name) + " must be an integer", name);
    std::int64_t n = 0;
    if (v->is_number_unsigned()) {
        auto u = v->get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(INT64_MAX))
            throw api_error(422, std::string(name) + " is too large", name);
        n = static_cast<std::int64_t>(u);
    } else {
        n = v->get<std::int64_t>();
    }
    if (n < min || n > max)
        throw api_error(422, std::string(name) + " must be from " + std::to_string(min) + " to " +
                                 std::to_string(max), name);
    return n;
}

void body_reader::finish() {
    for (auto it = j_.begin(); it != j_.end(); ++it)
        if (!seen_.count(it.key()))
            throw api_error(400, "unknown field " + it.key().substr(0, 64), it.key().substr(0, 64));
}

void rethrow_config_error(const config::config_error& e, const char* field, int not_found_status) {
    using kind = config::config_error::kind;
    switch (e.which()) {
    case kind::invalid: throw api_error(422, e.what(), field);
    case kind::not_found: throw api_error(not_found_status, e.what(), field);
    case kind::conflict: throw api_error(409, e.what(), field);
    case kind::storage: break;
    }
    throw api_error(500, e.what(), "");
}

http_response json_response(int status, const json& j) {
    http_response r;
    r.status = status;
    r.body = j.dump(-1, ' ', false, json::error_handler_t::replace);
    return r;
}

http_response no_content() {
    http_response r;
    r.status = 204;
    r.content_type.clear();
    return r;
}

http_response error_response(int status, const std::string& message, const std::string& field) {
    return json_response(status, json{{"error", message}, {"field", field}});
}

} // namespace cartero::webui
