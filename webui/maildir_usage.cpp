// webui/maildir_usage.cpp — read the maildirsize file (Maildir++ quota, Courier/Dovecot format).
#include "webui/maildir_usage.hpp"

#include <charconv>
#include <fstream>
#include <sstream>

namespace cartero::webui {

maildir_usage parse_maildirsize_usage(std::string_view text) {
    maildir_usage u;
    bool first = true;
    while (!text.empty()) {
        auto nl = text.find('\n');
        auto line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        if (first) {
            first = false; // "<limit>S,<limit>C": the quota, not usage
            continue;
        }
        std::int64_t b = 0, n = 0;
        auto sp = line.find(' ');
        if (sp == std::string_view::npos) continue;
        auto r1 = std::from_chars(line.data(), line.data() + sp, b);
        auto rest = line.substr(sp + 1);
        while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
        auto r2 = std::from_chars(rest.data(), rest.data() + rest.size(), n);
        if (r1.ec != std::errc() || r2.ec != std::errc()) continue;
        u.bytes += b; // deletions are negative lines
        u.messages += n;
    }
    if (u.bytes < 0) u.bytes = 0;
    if (u.messages < 0) u.messages = 0;
    return u;
}

maildir_usage read_maildir_usage(const std::string& mail_root, std::string_view domain,
                                 std::string_view local_part) {
    if (mail_root.empty() || domain.empty() || local_part.empty()) return {};
    for (auto part : {domain, local_part})
        if (part.find('/') != std::string_view::npos || part == "." || part == "..") return {};
    std::ifstream f(mail_root + "/" + std::string(domain) + "/" + std::string(local_part) +
                    "/maildirsize");
    if (!f) return {};
    std::string text(5120, '\0'); // Maildir++ keeps the file under 5120 bytes
    f.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(f.gcount()));
    return parse_maildirsize_usage(text);
}

} // namespace cartero::webui
