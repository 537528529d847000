#!/usr/bin/python3
# tests/unit/bounce/check_dsn.py — independent check of a built DSN with Python's email package.
# Usage: check_dsn.py DSN_FILE EXPECT_JSON_FILE. Exits 0 when the structure holds, prints why otherwise.
# EXPECT_JSON: {"to": "...", "subject": "...", "recipients": [{"final": "...", "action": "...",
#   "status": "...", "original": "..."?, "diag_contains": "..."?}], "original": "message/rfc822"
#   or "text/rfc822-headers" or null (no third part), "original_message_id": "..."?}
import email
import email.policy
import json
import sys


def fail(why):
    print("check_dsn: " + why)
    sys.exit(1)


raw = open(sys.argv[1], "rb").read()
want = json.load(open(sys.argv[2]))

# Wire rules first: CRLF only, lines <= 998 octets.
for n, line in enumerate(raw.split(b"\r\n")):
    if b"\n" in line or b"\r" in line:
        fail("bare CR or LF in line %d" % n)
    if len(line) > 998:
        fail("line %d is %d octets" % (n, len(line)))

msg = email.message_from_bytes(raw, policy=email.policy.compat32)
if msg.get_content_type() != "multipart/report":
    fail("top type " + msg.get_content_type())
if msg.get_param("report-type") != "delivery-status":
    fail("report-type " + str(msg.get_param("report-type")))
if msg["Auto-Submitted"] != "auto-replied":
    fail("Auto-Submitted " + str(msg["Auto-Submitted"]))
if not msg["From"].startswith("Mail Delivery System <MAILER-DAEMON@"):
    fail("From " + msg["From"])
if msg["To"] != "<%s>" % want["to"]:
    fail("To " + msg["To"])
if msg["Subject"] != want["subject"]:
    fail("Subject " + msg["Subject"])
for h in ("Date", "Message-ID", "MIME-Version"):
    if not msg[h]:
        fail("missing " + h)
parts = msg.get_payload()
if len(parts) != (3 if want["original"] else 2):  # "original": null = no third part
    fail("%d parts" % len(parts))
if parts[0].get_content_type() != "text/plain":
    fail("part 1 " + parts[0].get_content_type())
text = parts[0].get_payload(decode=True).decode("utf-8")
if parts[1].get_content_type() != "message/delivery-status":
    fail("part 2 " + parts[1].get_content_type())
if want["original"] and parts[2].get_content_type() != want["original"]:
    fail("part 3 " + parts[2].get_content_type())

# message/delivery-status: compat32 parses it into a list of header blocks.
blocks = parts[1].get_payload()
per_message, per_rcpt = blocks[0], blocks[1:]
if not per_message["Reporting-MTA"].startswith("dns; "):
    fail("Reporting-MTA " + str(per_message["Reporting-MTA"]))
if not per_message["Arrival-Date"]:
    fail("no Arrival-Date")
if len(per_rcpt) != len(want["recipients"]):
    fail("%d recipient blocks, want %d" % (len(per_rcpt), len(want["recipients"])))
for got, exp in zip(per_rcpt, want["recipients"]):
    if got["Final-Recipient"] != "rfc822; " + exp["final"]:
        fail("Final-Recipient " + str(got["Final-Recipient"]))
    if got["Action"] != exp["action"]:
        fail("Action " + str(got["Action"]))
    if got["Status"] != exp["status"]:
        fail("Status " + str(got["Status"]))
    if "original" in exp and got["Original-Recipient"] != "rfc822; " + exp["original"]:
        fail("Original-Recipient " + str(got["Original-Recipient"]))
    if "diag_contains" in exp:
        diag = " ".join(str(got["Diagnostic-Code"]).split())
        if not diag.startswith("smtp; ") or exp["diag_contains"] not in diag:
            fail("Diagnostic-Code " + diag)
        if exp["diag_contains"] not in " ".join(text.split()):
            fail("human part does not quote the reply")
    if not got["Last-Attempt-Date"]:
        fail("no Last-Attempt-Date")
    if exp["final"] not in text:
        fail("human part does not name " + exp["final"])

if not want["original"]:
    pass
elif want["original"] == "message/rfc822":
    inner = parts[2].get_payload()[0]
    if "original_message_id" in want and inner["Message-ID"] != want["original_message_id"]:
        fail("returned Message-ID " + str(inner["Message-ID"]))
else:
    hdrs = parts[2].get_payload()
    if "original_message_id" in want and want["original_message_id"] not in hdrs:
        fail("returned headers lack the Message-ID")
    if "\r\n\r\nbody" in hdrs or "SECRET BODY" in hdrs:
        fail("headers part carries the body")
print("ok")
