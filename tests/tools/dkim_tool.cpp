// tests/tools/dkim_tool.cpp — signs or verifies the message on stdin with daemon/mailauth, so that
// tests/integration/test_dkim.py can hold Cartero's DKIM against dkimpy.
//
//   dkim_tool sign --domain D --selector S --algorithm rsa|ed25519 --key FILE [--time T]
//                  [--expire SECONDS] [--headers a:b:c] [--oversign a:b]
//       → the signed message (DKIM-Signature field + the input) on stdout
//   dkim_tool verify [--dns NAME=TXT]... [--tempfail NAME]... [--time T]
//       → one line per signature: status<TAB>reason<TAB>d<TAB>s<TAB>a<TAB>i<TAB>l<TAB>detail
//         (l = "-" without l=, else its value); "none" alone when the message is unsigned.
//   dkim_tool sign-batch ... / verify-batch ...: the same for many messages in one run (the
//         corpus test would otherwise start a process per case): stdin is a sequence of
//         "<octets>\n<message>"; sign-batch writes the signed messages framed the same way,
//         verify-batch one line per message: its results as "status/reason" joined by ",".
// Input with bare LF line ends (no CR at all) is converted to CRLF first. Exit 0, or 2 on bad use.
#include "daemon/mailauth/dkim_canon.hpp"
#include "daemon/mailauth/dkim_signer.hpp"
#include "daemon/mailauth/dkim_tags.hpp"
#include "daemon/mailauth/dkim_verifier.hpp"

#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>

using namespace cartero;

namespace {

[[noreturn]] void usage(const std::string& why) {
    std::cerr << "dkim_tool: " << why << "\n";
    std::exit(2);
}

std::string read_all(std::istream& in) {
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// "<octets>\n<message>" frames until EOF.
std::vector<std::string> read_frames(std::istream& in) {
    std::vector<std::string> out;
    std::string len;
    while (std::getline(in, len)) {
        if (len.empty()) continue;
        std::string m(std::stoul(len), '\0');
        in.read(m.data(), static_cast<std::streamsize>(m.size()));
        out.push_back(std::move(m));
    }
    return out;
}

std::string to_crlf(std::string s) {
    if (s.find('\r') != std::string::npos) return s;
    std::string out;
    for (char c : s) {
        if (c == '\n') out += '\r';
        out += c;
    }
    return out;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) usage("sign|verify expected");
    std::string mode = argv[1];
    std::multimap<std::string, std::string> opt;
    for (int i = 2; i < argc; i += 2) {
        if (i + 1 >= argc) usage(std::string("missing value for ") + argv[i]);
        opt.emplace(argv[i], argv[i + 1]);
    }
    auto one = [&](const char* k, const char* dflt) -> std::string {
        auto it = opt.find(k);
        if (it != opt.end()) return it->second;
        if (!dflt) usage(std::string(k) + " is required");
        return dflt;
    };
    std::int64_t now = std::stoll(one("--time", std::to_string(std::time(nullptr)).c_str()));
    bool batch = mode.ends_with("-batch");
    if (batch) mode.resize(mode.size() - 6);
    std::vector<std::string> messages;
    if (batch)
        for (auto& m : read_frames(std::cin))
            messages.push_back(to_crlf(std::move(m)));
    else
        messages.push_back(to_crlf(read_all(std::cin)));

    try {
        if (mode == "sign") {
            std::ifstream kf(one("--key", nullptr));
            if (!kf) usage("cannot read --key");
            std::string alg_name = one("--algorithm", "rsa");
            auto alg =
                alg_name == "ed25519" ? dkim::key_algorithm::ed25519 : dkim::key_algorithm::rsa;
            mailauth::signer_options o;
            o.expire_after = std::stoll(one("--expire", "0"));
            if (opt.count("--headers"))
                o.headers = mailauth::split_trimmed(one("--headers", ""), ':');
            if (opt.count("--oversign"))
                o.oversign = mailauth::split_trimmed(one("--oversign", ""), ':');
            mailauth::signer s(one("--domain", nullptr), one("--selector", nullptr), alg,
                               read_all(kf), o);
            for (const auto& message : messages) {
                std::string out = s.sign(message, now) + message;
                if (batch) std::cout << out.size() << '\n';
                std::cout << out;
            }
            return 0;
        }
        if (mode == "verify") {
            std::map<std::string, std::vector<std::string>> dns;
            std::set<std::string> tempfail;
            for (auto [k, v] : opt) {
                if (k == "--dns") {
                    auto eq = v.find('=');
                    if (eq == std::string::npos) usage("--dns NAME=TXT");
                    std::string name = mailauth::lower(v.substr(0, eq));
                    if (!name.empty() && name.back() == '.') name.pop_back();
                    dns[name].push_back(v.substr(eq + 1));
                } else if (k == "--tempfail") {
                    tempfail.insert(mailauth::lower(v));
                }
            }
            mailauth::verifier v([&](std::string_view name) {
                mailauth::key_lookup_result r;
                std::string n = mailauth::lower(name);
                if (tempfail.count(n)) {
                    r.status = mailauth::key_lookup_result::status::temporary;
                } else if (auto it = dns.find(n); it != dns.end()) {
                    r.status = mailauth::key_lookup_result::status::ok;
                    r.txt = it->second;
                }
                return r;
            });
            for (const auto& message : messages) {
                auto results = v.verify(message, now);
                if (batch) {
                    std::string line;
                    for (const auto& r : results)
                        line += (line.empty() ? "" : ",") +
                                std::string(mailauth::to_string(r.status)) + "/" +
                                std::string(mailauth::to_string(r.reason));
                    std::cout << (line.empty() ? "none" : line) << '\n';
                    continue;
                }
                if (results.empty()) std::cout << "none\n";
                for (const auto& r : results)
                    std::cout << mailauth::to_string(r.status) << '\t'
                              << mailauth::to_string(r.reason) << '\t' << r.domain << '\t'
                              << r.selector << '\t' << r.algorithm << '\t' << r.identity << '\t'
                              << (r.uses_length_limit ? std::to_string(r.body_length) : "-") << '\t'
                              << r.detail << '\n';
            }
            return 0;
        }
    } catch (const std::exception& e) {
        std::cerr << "dkim_tool: " << e.what() << "\n";
        return 1;
    }
    usage("unknown mode " + mode);
}
