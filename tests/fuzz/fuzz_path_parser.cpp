// tests/fuzz/fuzz_path_parser.cpp — libFuzzer target: path, MAIL/RCPT argument and SASL parsers.
//
// Besides crashes, it traps when a parsed path does not survive a round trip through
// path::address() (what the queue stores must parse back to the same mailbox) or breaks a limit.
#include "daemon/smtp/esmtp_params.hpp"
#include "daemon/smtp/path_parser.hpp"
#include "daemon/smtp/sasl.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

using namespace cartero::smtp;

namespace {

void check(bool ok) {
    if (!ok) __builtin_trap();
}

void round_trip(std::string_view in, path_kind kind) {
    path_result r = parse_path(in, kind);
    if (!r.ok()) return;
    check(r.length <= in.size() && r.length <= 256);
    check(r.value.null_path || r.value.local.size() <= 64);
    if (r.value.null_path) {
        check(r.value.address().empty());
        return;
    }
    std::string again = "<" + r.value.address() + ">";
    path_result r2 = parse_path(again, kind);
    check(r2.ok());
    check(r2.value.local == r.value.local);
    check(r2.value.domain == r.value.domain);
    check(r2.length == again.size());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    round_trip(in, path_kind::forward);
    round_trip(in, path_kind::reverse);

    auto a = parse_mail_rcpt_args(in, "FROM:", path_kind::reverse);
    if (a.error == args_error::none)
        for (const auto& p : a.params) check(!p.keyword.empty());

    if (auto d = base64_decode(in)) check(base64_decode(base64_encode(*d)) == d);

    // A SASL exchange fed line by line.
    sasl_exchange x;
    std::size_t nl = in.find('\n');
    sasl_step st = x.start(in.substr(0, nl), std::nullopt);
    while (st.kind == sasl_step::challenge && nl != std::string_view::npos) {
        in.remove_prefix(nl + 1);
        nl = in.find('\n');
        st = x.step(in.substr(0, nl));
    }
    return 0;
}
