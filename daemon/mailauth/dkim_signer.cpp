// daemon/mailauth/dkim_signer.cpp — builds, hashes and signs the DKIM-Signature field.
#include "daemon/mailauth/dkim_signer.hpp"

#include "daemon/mailauth/dkim_canon.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>

namespace cartero::mailauth {
namespace {

constexpr std::size_t max_columns = 78; // RFC 5322 §2.1.1: lines SHOULD be <= 78 characters

// Appends atoms to a header field, folding (CRLF + one SP) before an atom that would pass the
// column limit. `spaced`: the atom is separated by a space even when it fits.
class folder {
  public:
    explicit folder(std::string start) : out_(std::move(start)), col_(out_.size()) {}
    void add(std::string_view atom, bool spaced) {
        if (col_ + (spaced ? 1 : 0) + atom.size() > max_columns && col_ > 1) {
            out_ += "\r\n ";
            col_ = 1;
        } else if (spaced) {
            out_ += ' ';
            ++col_;
        }
        out_ += atom;
        col_ += atom.size();
    }
    void new_line() {
        out_ += "\r\n ";
        col_ = 1;
    }
    std::size_t column() const { return col_; }
    std::string& text() { return out_; }

  private:
    std::string out_;
    std::size_t col_;
};

} // namespace

const std::vector<std::string>& default_signed_headers() {
    static const std::vector<std::string> names = {
        // RFC 6376 §5.4.1
        "from", "reply-to", "subject", "date", "to", "cc", "resent-date", "resent-from",
        "resent-to", "resent-cc", "in-reply-to", "references", "list-id", "list-help",
        "list-unsubscribe", "list-subscribe", "list-post", "list-owner", "list-archive",
        // what else a reader or a list-unsubscribe click depends on
        "sender", "message-id", "mime-version", "content-type", "content-transfer-encoding",
        "list-unsubscribe-post"};
    return names;
}

signer::signer(std::string domain, std::string selector, dkim::key_algorithm alg,
               std::string_view private_key_pem, signer_options options)
    : domain_(lower(domain)), selector_(lower(selector)), alg_(alg),
      key_(load_private_key(private_key_pem, alg)), options_(std::move(options)) {
    if (domain_.empty() || selector_.empty())
        throw std::invalid_argument("DKIM signer: empty domain or selector");
    for (auto& h : options_.headers)
        h = lower(h);
    for (auto& h : options_.oversign)
        h = lower(h);
    if (std::find(options_.headers.begin(), options_.headers.end(), "from") ==
        options_.headers.end())
        options_.headers.insert(options_.headers.begin(), "from");
    // Over-signed names not among the candidates are listed too: signing their absence is what
    // stops someone adding them (a Reply-To, say).
    for (const auto& o : options_.oversign)
        if (std::find(options_.headers.begin(), options_.headers.end(), o) ==
            options_.headers.end())
            options_.headers.push_back(o);
}

std::string signer::sign(std::string_view message, std::int64_t now) const {
    message_view m = split_message(message);

    std::map<std::string, std::size_t> count;
    for (const auto& f : m.headers)
        ++count[lower(f.name)];

    // h=: every candidate as often as it occurs; over-signed ones (and From, RFC 6376 §5.4 and
    // §8.15) once more, so that an instance added later has nothing to hide behind.
    std::vector<std::string> names;
    for (const auto& cand : options_.headers) {
        if (std::find(names.begin(), names.end(), cand) != names.end()) continue;
        auto it = count.find(cand);
        std::size_t n = it == count.end() ? 0 : it->second;
        bool over = cand == "from" || std::find(options_.oversign.begin(), options_.oversign.end(),
                                                cand) != options_.oversign.end();
        if (n == 0 && !over) continue;
        for (std::size_t i = 0; i < n + (over ? 1 : 0); ++i)
            names.push_back(cand);
    }

    body_hash bh = hash_body(m.body, canon::relaxed);

    folder f("DKIM-Signature:");
    f.add("v=1;", true);
    f.add(std::string("a=") + std::string(dkim::to_string(alg_)) + ";", true);
    f.add("c=relaxed/relaxed;", true);
    f.add("d=" + domain_ + ";", true);
    f.add("s=" + selector_ + ";", true);
    f.add("t=" + std::to_string(now) + ";", true);
    if (options_.expire_after > 0)
        f.add("x=" + std::to_string(now + options_.expire_after) + ";", true);
    for (std::size_t i = 0; i < names.size(); ++i) {
        std::string atom = (i == 0 ? "h=" : "") + names[i] + (i + 1 == names.size() ? ";" : ":");
        f.add(atom, i == 0);
    }
    f.add("bh=" + base64_encode(bh.digest.data(), bh.digest.size()) + ";", true);
    f.new_line();
    f.add("b=", false);

    // RFC 6376 §3.7: the signed headers, then this field with an empty b= and no final CRLF.
    sha256 h;
    hash_signed_headers(h, m, names, canon::relaxed);
    std::string self;
    canon_header(self, f.text(), canon::relaxed);
    self.resize(self.size() - 2);
    h.update(self);
    std::string sig = sign_digest(key_, alg_, h.finish());
    std::string b64 = base64_encode(reinterpret_cast<const unsigned char*>(sig.data()), sig.size());

    // b= folded: fill the line, then continuation lines of 77 characters after the SP.
    std::size_t pos = 0;
    while (pos < b64.size()) {
        std::size_t room = max_columns - f.column();
        if (room == 0) {
            f.new_line();
            continue;
        }
        std::size_t take = std::min(room, b64.size() - pos);
        f.add(std::string_view(b64).substr(pos, take), false);
        pos += take;
        if (pos < b64.size()) f.new_line();
    }
    f.text() += "\r\n";
    return std::move(f.text());
}

} // namespace cartero::mailauth
