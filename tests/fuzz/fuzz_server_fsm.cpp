// tests/fuzz/fuzz_server_fsm.cpp — libFuzzer target: arbitrary client bytes into server_fsm.
//
// Input layout: byte 0 = settings flags, byte 1 = read size seed, the rest = what the client
// sends, fed in reads of 1..64 octets. The session answers every check positively, every AUTH
// negatively, every delivery with 250, and completes every STARTTLS handshake. Besides crashes
// and sanitizer reports, it traps on broken invariants: replies end in CRLF, a delivered message
// has only CRLF line ends (no smuggling), nothing is delivered without recipients.
#include "daemon/smtp/server_fsm.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

using namespace cartero;
using namespace cartero::smtp;

namespace {

void check(bool ok) {
    if (!ok) __builtin_trap();
}

bool crlf_only(const std::string& m) {
    for (std::size_t i = 0; i < m.size(); ++i) {
        if (m[i] == '\r' && (i + 1 >= m.size() || m[i + 1] != '\n')) return false;
        if (m[i] == '\n' && (i == 0 || m[i - 1] != '\r')) return false;
    }
    return m.empty() || (m.size() >= 2 && m.compare(m.size() - 2, 2, "\r\n") == 0);
}

// Runs until the fsm wants input or closes. Returns false once closed.
bool drive(server_fsm& fsm, const server_settings& s) {
    for (int guard = 0; guard < 1000000; ++guard) {
        action a = fsm.next();
        switch (a.kind) {
        case action_kind::send:
            check(a.out.size() >= 2 && a.out.compare(a.out.size() - 2, 2, "\r\n") == 0);
            break;
        case action_kind::need_input:
            return true;
        case action_kind::check_helo:
            fsm.helo_result(reply(250, "", "ok"));
            break;
        case action_kind::check_sender:
            fsm.sender_result(reply(250, "2.1.0", "ok"));
            break;
        case action_kind::check_recipient:
            fsm.recipient_result(reply(250, "2.1.5", "ok"));
            break;
        case action_kind::authenticate:
            fsm.auth_result(false, a.username);
            break;
        case action_kind::start_tls:
            fsm.tls_started();
            break;
        case action_kind::deliver:
            check(a.env != nullptr && a.message != nullptr);
            check(!a.env->recipients.empty() && a.env->recipients.size() <= s.max_recipients);
            check(a.message->size() <= s.max_message_size);
            check(crlf_only(*a.message));
            fsm.deliver_result(reply(250, "2.0.0", "queued"));
            break;
        case action_kind::close:
            check(fsm.next().kind == action_kind::close);
            return false;
        }
    }
    __builtin_trap(); // next() never settles: a loop without progress
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    server_settings s;
    s.hostname = "fuzz.example";
    const std::uint8_t flags = data[0];
    s.tls_available = flags & 1;
    s.tls_active = flags & 2;
    s.auth_required = flags & 4;
    s.auth_available = !(flags & 16);
    if (flags & 8) { // small limits, so that the fuzzer reaches them
        s.max_command_line = 64;
        s.max_mail_rcpt_line = 128;
        s.max_auth_line = 256;
        s.max_text_line = 80;
        s.max_recipients = 2;
        s.max_message_size = 300;
        s.max_bad_commands = 5;
    }
    const std::size_t step = (data[1] % 64) + 1;
    data += 2;
    size -= 2;

    server_fsm fsm(s);
    bool open = drive(fsm, s);
    for (std::size_t off = 0; open && off < size; off += step) {
        std::size_t n = size - off < step ? size - off : step;
        fsm.feed(std::string_view(reinterpret_cast<const char*>(data + off), n));
        open = drive(fsm, s);
    }
    if (open) {
        fsm.eof();
        check(fsm.next().kind == action_kind::close);
    }
    return 0;
}
