// daemon/local/autoresponder.hpp — vacation replies (RFC 3834) for local mailboxes: who gets one,
// what it says, and the worker that sends them through the outbound queue.
#pragma once

#include "core/autoreply_store.hpp"
#include "daemon/queue/queue_store.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;

namespace cartero::local {

// One message as it reached one local mailbox.
struct autoreply_incoming {
    std::string envelope_sender; // MAIL FROM, "" = null sender
    std::string mailbox;         // the mailbox delivered to (normalised address)
    std::string rcpt_to;         // the address as the sender wrote it (an alias, say)
    std::string_view message;    // the stored message; only its header section is read
};

// Why no reply is sent (none = reply). Each is one rule of RFC 3834 or one of ours.
enum class autoreply_skip {
    none,
    inactive,         // disabled, or now is outside start..end
    null_sender,      // §2: never to the null reverse-path (bounces, other autoreplies)
    own_address,      // the sender is the mailbox itself (or the address it was sent to)
    system_sender,    // mailer-daemon, postmaster, owner-*, *-request …: never a person
    auto_submitted,   // §2, §5: Auto-Submitted other than "no"
    list_mail,        // §2: any List-* field (RFC 2369, RFC 2919)
    precedence,       // Precedence: bulk, list or junk (de-facto, §2)
    spam,             // our own X-Spam-Flag: YES (the spam filter strips incoming ones)
    suppressed,       // X-Auto-Response-Suppress: All / OOF (Exchange's opt-out)
    not_addressed,    // §3.1.1: the mailbox is in no To/Cc/Bcc/Resent-* field (Bcc, lists)
    already_replied,  // §2: this sender got one within the interval (autoreply_sent)
};
const char* to_string(autoreply_skip s);

// The stateless rules, in the order listed above (the interval is the caller's, it needs
// queue.db). `now`: Unix seconds.
autoreply_skip screen(const autoreply_incoming& in, const config::autoreply_row& cfg,
                      std::int64_t now);

// The reply (CRLF lines, ready for the queue; send it with MAIL FROM:<>):
//   From: the mailbox · To: the envelope sender (RFC 3834 §3.1.3/§4: only that address)
//   Subject: the configured one, else "Auto: " + the original subject (§3.1.5), RFC 2047
//   encoded when not ASCII · Date · Message-ID @ the mailbox's domain · In-Reply-To and
//   References from the original's Message-ID (and References) (§3.1.6, RFC 5322 §3.6.4)
//   · Auto-Submitted: auto-replied (§5) · X-Auto-Response-Suppress: All · MIME-Version;
//   text/plain UTF-8 quoted-printable, or multipart/alternative with the HTML body.
struct built_autoreply {
    std::string message;
    std::string message_id;
};
built_autoreply build_autoreply(const autoreply_incoming& in, const config::autoreply_row& cfg,
                                std::chrono::system_clock::time_point now);

// queue.db bookkeeping (table autoreply_sent), for the store's writer thread: true when no
// reply went from `mailbox` to `sender` within interval_days before `now` — and then records
// one at `now` (one transaction), so two deliveries never both win. Throws std::runtime_error.
bool claim_reply_slot(sqlite3* queue_db, const std::string& mailbox, const std::string& sender,
                      int interval_days, std::int64_t now);

// Where carterod routes mail it writes itself (the recipients as RCPT would resolve them).
using autoreply_route_fn = std::function<std::vector<queue::recipient>(const std::string& address)>;

struct autoresponder_settings {
    std::filesystem::path config_db; // read on the worker thread (its own connection)
    std::string hostname;            // the HELO recorded on queued replies
    autoreply_route_fn route;
    std::size_t max_backlog = 10000; // messages waiting; beyond, no replies (logged)
};

// Watches committed messages (a store listener; the listener only hands over) and answers on
// its own thread: screen, claim the slot in queue.db (store.run_on_writer), build, enqueue
// with the null reverse-path, so the outbound path DKIM-signs it like any mail from the
// mailbox's domain and no responder or DSN ever answers it (RFC 3834 §3.3).
// Replies are decided when the message is committed (accepted for the mailbox), not after its
// Maildir write. Logs event=autoreply_sent|autoreply_skipped mailbox= to= queue_id= reason=.
class autoresponder {
public:
    static std::unique_ptr<autoresponder> start(queue::store& store, autoresponder_settings s);
    virtual ~autoresponder() = default;
    // Stops the worker; messages not yet answered get no reply. Call before store.stop().
    virtual void stop() = 0;
    virtual bool wait_idle(std::chrono::milliseconds timeout) = 0;
    virtual std::uint64_t sent() const = 0;
    virtual std::uint64_t skipped() const = 0;
};

} // namespace cartero::local
