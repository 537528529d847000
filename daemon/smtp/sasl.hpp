// daemon/smtp/sasl.hpp — server side of SASL PLAIN (RFC 4616) and LOGIN for SMTP AUTH (RFC 4954).
#pragma once

#include "core/reply.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace cartero::smtp {

// Strict RFC 4648 §4 base64 (standard alphabet, padding optional, no whitespace).
std::optional<std::string> base64_decode(std::string_view in);
std::string base64_encode(std::string_view in);

struct sasl_credentials {
    std::string mechanism; // "PLAIN" or "LOGIN"
    std::string authzid, username, password;
};

// One step of an AUTH exchange.
struct sasl_step {
    enum kind_t {
        challenge, // send "334 <challenge>" and feed the client's next line to step()
        done,      // credentials decoded: verify them
        fail,      // send `error`; the exchange is over
    } kind = fail;
    std::string challenge_b64; // base64, as it goes after "334 "
    sasl_credentials creds;
    reply error;
};

// One AUTH exchange. start() with the mechanism and the optional initial response (RFC 4954
// §4: "=" stands for an empty one), then step() with each continuation line until done/fail.
// A "*" line cancels (501 5.0.0); undecodable base64 gives 501 5.5.2; an unknown mechanism 504
// 5.5.4. It does not judge the credentials: that is the session's authenticate answer.
class sasl_exchange {
public:
    sasl_step start(std::string_view mechanism, std::optional<std::string_view> initial);
    sasl_step step(std::string_view line);

private:
    sasl_step plain(std::string_view response);
    sasl_step decode(std::string_view line, std::string& out);
    enum class stage { idle, plain_response, login_user, login_password } stage_ = stage::idle;
    sasl_credentials creds_;
};

} // namespace cartero::smtp
