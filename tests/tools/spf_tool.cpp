// tests/tools/spf_tool.cpp — evaluates SPF queries with daemon/mailauth's checker and the real
// resolver, so tests/integration/test_mailauth.py can hold Cartero against pyspf.
//
//   spf_tool --resolver 127.0.0.1:PORT [--timeout-ms N] [--mode mailfrom|helo]
//     stdin: one query per line, "IP<TAB>SENDER<TAB>HELO" (SENDER empty for <>)
//     stdout: one line per query, "RESULT<TAB>PROBLEM" (PROBLEM "-" when none)
// Exit 0, or 2 on bad use.
#include "core/dns/query_name.hpp"
#include "core/dns/resolver.hpp"
#include "daemon/mailauth/spf.hpp"

#include <cstdlib>
#include <ctime>
#include <iostream>
#include <string>

using namespace cartero;

int main(int argc, char** argv) {
    dns::resolver_settings rs;
    std::string mode = "mailfrom";
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string k = argv[i], v = argv[i + 1];
        if (k == "--resolver") rs.forward_to = v;
        else if (k == "--timeout-ms") rs.timeout = std::chrono::milliseconds(std::stoi(v));
        else if (k == "--mode") mode = v;
        else {
            std::cerr << "spf_tool: unknown option " << k << "\n";
            return 2;
        }
    }
    auto resolver = dns::make_resolver(rs);
    mailauth::spf_checker checker([&](std::string_view name, mailauth::spf_query type) {
        dns::rr_type t = dns::rr_type::txt;
        switch (type) {
        case mailauth::spf_query::txt: t = dns::rr_type::txt; break;
        case mailauth::spf_query::a: t = dns::rr_type::a; break;
        case mailauth::spf_query::aaaa: t = dns::rr_type::aaaa; break;
        case mailauth::spf_query::mx: t = dns::rr_type::mx; break;
        case mailauth::spf_query::ptr: t = dns::rr_type::ptr; break;
        }
        mailauth::spf_dns_reply r;
        if (!dns::query_name(name).ok) { // not a name DNS can carry: it does not exist
            r.status = mailauth::spf_dns_reply::status::nxdomain;
            return r;
        }
        auto a = resolver->lookup(name, t);
        if (std::getenv("SPF_TOOL_DEBUG")) std::cerr << name << " " << dns::to_string(t) << " -> " << dns::to_string(a.st) << " " << a.records.size() << " " << a.why << "\n";
        switch (a.st) {
        case dns::status::ok: break;
        case dns::status::nodata: return r;
        case dns::status::nxdomain: r.status = mailauth::spf_dns_reply::status::nxdomain; return r;
        default: r.status = mailauth::spf_dns_reply::status::temporary; return r;
        }
        if (type == mailauth::spf_query::mx) {
            for (const auto& m : dns::parse_mx(a)) r.records.push_back(m.host);
        } else {
            r.records = a.records;
        }
        return r;
    });
    std::string line;
    while (std::getline(std::cin, line)) {
        if (line.empty()) continue;
        mailauth::spf_request rq;
        auto t1 = line.find('\t');
        auto t2 = t1 == std::string::npos ? t1 : line.find('\t', t1 + 1);
        if (t2 == std::string::npos) {
            std::cerr << "spf_tool: bad line: " << line << "\n";
            return 2;
        }
        rq.ip = line.substr(0, t1);
        rq.mail_from = line.substr(t1 + 1, t2 - t1 - 1);
        rq.helo = line.substr(t2 + 1);
        rq.receiver = "mx.example.test";
        rq.now = static_cast<std::int64_t>(std::time(nullptr));
        auto out = mode == "helo" ? checker.check_helo(rq) : checker.check_mail_from(rq);
        std::cout << mailauth::to_string(out.result) << '\t'
                  << (out.problem.empty() ? std::string("-") : out.problem) << std::endl;
    }
    return 0;
}
