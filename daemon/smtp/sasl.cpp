// daemon/smtp/sasl.cpp — SASL PLAIN / LOGIN decoding and base64 for SMTP AUTH (RFC 4954).
#include "daemon/smtp/sasl.hpp"

#include "daemon/smtp/command_parser.hpp"

#include <array>

namespace cartero::smtp {

namespace {

constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<signed char, 256> make_decode_table() {
    std::array<signed char, 256> t{};
    for (auto& v : t) v = -1;
    for (std::size_t i = 0; i < alphabet.size(); ++i)
        t[static_cast<unsigned char>(alphabet[i])] = static_cast<signed char>(i);
    return t;
}
constexpr auto decode_table = make_decode_table();

sasl_step failure(int code, const char* enh, const char* text) {
    sasl_step s;
    s.kind = sasl_step::fail;
    s.error = reply(code, enh, text);
    return s;
}

sasl_step challenge(std::string_view text) {
    sasl_step s;
    s.kind = sasl_step::challenge;
    s.challenge_b64 = base64_encode(text);
    return s;
}

} // namespace

std::optional<std::string> base64_decode(std::string_view in) {
    std::size_t pad = 0;
    while (!in.empty() && in.back() == '=' && pad < 2) {
        in.remove_suffix(1);
        ++pad;
    }
    if (pad && (in.size() + pad) % 4 != 0) return std::nullopt;
    if (in.size() % 4 == 1) return std::nullopt; // 6 bits cannot make an octet
    std::string out;
    out.reserve(in.size() * 3 / 4);
    unsigned acc = 0;
    int bits = 0;
    for (char ch : in) {
        int v = decode_table[static_cast<unsigned char>(ch)];
        if (v < 0) return std::nullopt;
        acc = (acc << 6) | static_cast<unsigned>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xFF);
        }
    }
    // RFC 4648 §3.5: leftover bits must be zero (canonical encoding).
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
    return out;
}

std::string base64_encode(std::string_view in) {
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                     (static_cast<unsigned char>(in[i + 1]) << 8) | static_cast<unsigned char>(in[i + 2]);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    if (i < in.size()) {
        unsigned v = static_cast<unsigned char>(in[i]) << 16;
        if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += (i + 1 < in.size()) ? alphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

sasl_step sasl_exchange::decode(std::string_view line, std::string& out) {
    if (line == "*") { // RFC 4954 §4: the client cancels
        stage_ = stage::idle;
        return failure(501, "5.0.0", "Authentication cancelled");
    }
    auto d = base64_decode(line);
    if (!d) {
        stage_ = stage::idle;
        return failure(501, "5.5.2", "Cannot decode base64 response");
    }
    out = std::move(*d);
    sasl_step ok;
    ok.kind = sasl_step::done;
    return ok;
}

sasl_step sasl_exchange::plain(std::string_view response) {
    std::string msg;
    if (auto s = decode(response, msg); s.kind == sasl_step::fail) return s;
    // RFC 4616 §2: [authzid] NUL authcid NUL passwd — exactly two NULs, non-empty authcid/passwd.
    std::size_t a = msg.find('\0');
    std::size_t b = a == std::string::npos ? a : msg.find('\0', a + 1);
    stage_ = stage::idle;
    if (b == std::string::npos || msg.find('\0', b + 1) != std::string::npos || b == a + 1 ||
        b + 1 == msg.size())
        return failure(501, "5.5.2", "Malformed PLAIN response");
    creds_.authzid = msg.substr(0, a);
    creds_.username = msg.substr(a + 1, b - a - 1);
    creds_.password = msg.substr(b + 1);
    sasl_step s;
    s.kind = sasl_step::done;
    s.creds = std::move(creds_);
    creds_ = {};
    return s;
}

sasl_step sasl_exchange::start(std::string_view mechanism,
                               std::optional<std::string_view> initial) {
    creds_ = {};
    if (initial && *initial == "=") initial = std::string_view{}; // RFC 4954 §4: empty response
    if (iequals(mechanism, "PLAIN")) {
        creds_.mechanism = "PLAIN";
        if (initial) return plain(*initial);
        stage_ = stage::plain_response;
        sasl_step s;
        s.kind = sasl_step::challenge; // RFC 4616: empty server challenge
        return s;
    }
    if (iequals(mechanism, "LOGIN")) {
        creds_.mechanism = "LOGIN";
        if (initial) { // some clients send the user name as initial response
            stage_ = stage::login_user;
            return step(*initial);
        }
        stage_ = stage::login_user;
        return challenge("Username:");
    }
    stage_ = stage::idle;
    return failure(504, "5.5.4", "Unrecognized authentication type");
}

sasl_step sasl_exchange::step(std::string_view line) {
    switch (stage_) {
    case stage::plain_response:
        return plain(line);
    case stage::login_user: {
        if (auto s = decode(line, creds_.username); s.kind == sasl_step::fail) return s;
        stage_ = stage::login_password;
        return challenge("Password:");
    }
    case stage::login_password: {
        if (auto s = decode(line, creds_.password); s.kind == sasl_step::fail) return s;
        stage_ = stage::idle;
        sasl_step s;
        s.kind = sasl_step::done;
        s.creds = std::move(creds_);
        creds_ = {};
        return s;
    }
    case stage::idle:
        break;
    }
    return failure(503, "5.5.1", "No authentication exchange in progress");
}

} // namespace cartero::smtp
