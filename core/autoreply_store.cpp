// core/autoreply_store.cpp — mailbox autoresponders in config.db (table `autoresponders`).
#include "core/autoreply_store.hpp"

#include "core/address_norm.hpp"
#include "core/sql_stmt.hpp"

#include <cctype>
#include <charconv>
#include <ctime>

namespace cartero::config {
namespace {

using kind = config_error::kind;
using sql::stmt;

bool valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        char32_t cp = 0;
        const std::size_t n = utf8_sequence(s, i, cp);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

std::string norm_mailbox(std::string_view a) {
    auto r = names::normalize_address(a);
    if (!r) throw config_error(kind::invalid, r.error);
    return r.value;
}

autoreply_row read_row(stmt& s) {
    autoreply_row r;
    r.mailbox = s.text(0);
    r.enabled = s.i64(1) != 0;
    r.subject = s.text(2);
    r.body_text = s.text(3);
    if (!s.is_null(4)) r.body_html = s.text(4);
    if (!s.is_null(5)) r.start_at = s.i64(5);
    if (!s.is_null(6)) r.end_at = s.i64(6);
    r.interval_days = static_cast<int>(s.i64(7));
    r.updated_at = s.i64(8);
    return r;
}

constexpr std::string_view select_rows =
    "SELECT m.address, a.enabled, a.subject, a.body_text, a.body_html, a.start_at, a.end_at, "
    "a.interval_days, a.updated_at FROM autoresponders a JOIN mailboxes m ON m.id = a.mailbox_id ";

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, unsigned& out) {
    if (pos + n > s.size()) return false;
    out = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
        out = out * 10 + static_cast<unsigned>(s[i] - '0');
    }
    return true;
}

} // namespace

std::string validate_autoreply(const autoreply_row& row) {
    if (row.subject.size() > 900) return "the subject is longer than 900 bytes";
    if (row.subject.find_first_of("\r\n") != std::string::npos)
        return "the subject must be one line (no line breaks)";
    if (!valid_utf8(row.subject)) return "the subject is not valid UTF-8";
    if (row.body_text.empty()) return "the body is empty; give the text of the reply";
    if (row.body_text.size() > 65536) return "the body is longer than 64 KiB";
    if (!valid_utf8(row.body_text)) return "the body is not valid UTF-8";
    if (row.body_html) {
        if (row.body_html->empty()) return "the HTML body is empty; leave it out instead";
        if (row.body_html->size() > 262144) return "the HTML body is longer than 256 KiB";
        if (!valid_utf8(*row.body_html)) return "the HTML body is not valid UTF-8";
    }
    if (row.start_at && row.end_at && *row.start_at > *row.end_at)
        return "the end is before the start";
    if (row.interval_days < 1 || row.interval_days > 365)
        return "the interval must be 1 to 365 days";
    return {};
}

autoreply_row set_autoreply(config_db& db, const autoreply_row& in) {
    autoreply_row row = in;
    row.mailbox = norm_mailbox(in.mailbox);
    if (auto why = validate_autoreply(row); !why.empty())
        throw config_error(kind::invalid, "autoresponder for " + row.mailbox + ": " + why);
    sql::transaction tx(db.handle(), true);
    std::int64_t mailbox_id = 0;
    {
        stmt s(db.handle(), "SELECT id FROM mailboxes WHERE address = ?1");
        s.bind(1, row.mailbox);
        if (!s.step())
            throw config_error(kind::not_found, "mailbox " + row.mailbox +
                                                    " does not exist; add it with: carteroctl "
                                                    "mailbox add " + row.mailbox);
        mailbox_id = s.i64(0);
    }
    stmt s(db.handle(),
           "INSERT INTO autoresponders (mailbox_id, enabled, subject, body_text, body_html, "
           "start_at, end_at, interval_days) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
           "ON CONFLICT (mailbox_id) DO UPDATE SET enabled = excluded.enabled, "
           "subject = excluded.subject, body_text = excluded.body_text, "
           "body_html = excluded.body_html, start_at = excluded.start_at, "
           "end_at = excluded.end_at, interval_days = excluded.interval_days, "
           "updated_at = CAST(strftime('%s', 'now') AS INTEGER)");
    s.bind(1, mailbox_id).bind(2, std::int64_t{row.enabled ? 1 : 0}).bind(3, row.subject);
    s.bind(4, row.body_text);
    if (row.body_html) s.bind(5, *row.body_html);
    else s.bind_null(5);
    if (row.start_at) s.bind(6, *row.start_at);
    else s.bind_null(6);
    if (row.end_at) s.bind(7, *row.end_at);
    else s.bind_null(7);
    s.bind(8, std::int64_t{row.interval_days});
    s.run();
    tx.commit();
    return *get_autoreply(db, row.mailbox);
}

void clear_autoreply(config_db& db, std::string_view mailbox) {
    const std::string a = norm_mailbox(mailbox);
    stmt s(db.handle(), "DELETE FROM autoresponders WHERE mailbox_id = "
                        "(SELECT id FROM mailboxes WHERE address = ?1)");
    s.bind(1, a).run();
    if (sqlite3_changes(db.handle()) == 0)
        throw config_error(kind::not_found, a + " has no autoresponder");
}

std::optional<autoreply_row> get_autoreply(config_db& db, std::string_view mailbox) {
    const std::string a = norm_mailbox(mailbox);
    stmt s(db.handle(), std::string(select_rows) + "WHERE m.address = ?1");
    s.bind(1, a);
    if (!s.step()) return std::nullopt;
    return read_row(s);
}

std::vector<autoreply_row> list_autoreplies(config_db& db, bool only_enabled) {
    stmt s(db.handle(), std::string(select_rows) +
                            (only_enabled ? "WHERE a.enabled = 1 AND m.enabled = 1 " : "") +
                            "ORDER BY m.address");
    std::vector<autoreply_row> out;
    while (s.step()) out.push_back(read_row(s));
    return out;
}

parsed<std::int64_t> parse_when(std::string_view t, bool end_of_day) {
    using P = parsed<std::int64_t>;
    const auto bad = [&] {
        return P::failure("date " + quoted(t) +
                          " is not YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS] (UTC) or Unix seconds");
    };
    if (t.empty()) return bad();
    if (t.find_first_not_of("0123456789") == std::string_view::npos) {
        std::int64_t v = 0;
        auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        if (ec != std::errc() || p != t.data() + t.size()) return bad();
        return P::success(v);
    }
    unsigned y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
    if (t.size() < 10 || !digits(t, 0, 4, y) || t[4] != '-' || !digits(t, 5, 2, mo) ||
        t[7] != '-' || !digits(t, 8, 2, d))
        return bad();
    if (mo < 1 || mo > 12 || d < 1 || d > 31) return bad();
    static constexpr unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap)) return bad();
    if (t.size() == 10) {
        if (end_of_day) h = 23, mi = 59, s = 59;
    } else {
        if ((t[10] != 'T' && t[10] != ' ') || !digits(t, 11, 2, h) || t.size() < 16 ||
            t[13] != ':' || !digits(t, 14, 2, mi))
            return bad();
        if (t.size() == 19) {
            if (t[16] != ':' || !digits(t, 17, 2, s)) return bad();
        } else if (t.size() != 16) {
            return bad();
        }
        if (h > 23 || mi > 59 || s > 59) return bad();
    }
    return P::success(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s);
}

} // namespace cartero::config
