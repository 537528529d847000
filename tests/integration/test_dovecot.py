#!/usr/bin/python3
"""dovecot: Dovecot, configured from rootfs/dovecot/*.in, serves what carterod delivered, over
IMAPS and POP3S, authenticating against config.db; its quota view matches maildirsize.

Dovecot refuses uid 0 for mail, so when the test runs as root the state dir is chowned to a
mail user (harness.mail_user(): $CARTERO_IT_MAIL_USER, else `cartero`, else Debian's `mail`,
uid 8) and carterod runs under `setpriv --reuid/--regid --clear-groups` as that user, so the
Maildirs it creates belong to it; Dovecot (started as root, as on the appliance) uses
mail_uid/first_valid_uid = that uid. Not root: everything runs as the current user and the
login processes are not chrooted. Exit status 77 (CTest: skipped) when Dovecot is not installed.

Spam: a header rule (carteroctl spam rule add, score above the junk threshold) files a message
for bob into Maildir++ .Junk; over IMAP bob sees the folder "Junk" (\\Junk) holding it, and
INBOX does not.
"""

import grp
import imaplib
import os
import poplib
import pwd
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import harness
from harness import DOMAIN, HOST, SMTPClient, make_message, ssl_client_context

ALICE = f"alice@{DOMAIN}"
PW = "Alice's p4ss w0rd"
BOB, BOB_PW = f"bob@{DOMAIN}", "bob-pw"
SPAM_ID = "<spam-for-junk@it.example>"
QUOTA_KIB = 1024  # --quota 1M
TEMPLATES = os.path.join(harness.REPO, "rootfs", "dovecot")


class LogFile:
    def __init__(self, path):
        self.log_path = path

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


class Dovecot(harness.CarteroTestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemons = []
        cls.state = harness.StateDir(mailboxes={ALICE: (PW, "1M"), BOB: BOB_PW})
        try:
            cls._setup()
        except Exception:
            cls._teardown()
            raise

    @classmethod
    def _setup(cls):
        st = cls.state
        cls.user, cls.uid, cls.gid = harness.mail_user()
        root = os.geteuid() == 0
        os.chmod(st.tmp, 0o755)
        # score 10: above the junk threshold (6), below the reject threshold (15)
        st.ctl("spam", "rule", "add", "JUNKME", "--header", "subject", "--pattern", "(?i)buy now",
               "--score", "10")
        if root:
            st.chown(cls.uid, cls.gid)
        cls.d = harness.Carterod(st, kinds=("smtp",), run_as=(cls.uid, cls.gid) if root else None)
        cls.daemons.append(cls.d)
        cls.d.start()
        # deliver one message with carterod
        cls.msgid = "<dovecot-reads-this@it.example>"
        c = SMTPClient(cls.d.smtp)
        try:
            c.ehlo()
            code, text = c.send_mail("sender@remote.example", [ALICE],
                                     make_message(cls.msgid, subject="for dovecot", size=5000))
        finally:
            c.close()
        if code != 250:
            raise AssertionError(f"carterod refused the message for Dovecot: {code} {text!r}")
        st.wait_msgid(ALICE, cls.msgid)
        c = SMTPClient(cls.d.smtp)
        try:
            c.ehlo()
            code, text = c.send_mail("sender@remote.example", [BOB],
                                     make_message(SPAM_ID, subject="BUY NOW cheap", to=BOB))
        finally:
            c.close()
        if code != 250:
            raise AssertionError(f"carterod refused the spam message: {code} {text!r}")
        st.wait_msgid(BOB, SPAM_ID, folder=".Junk")
        # carterod's own maildirsize, before Dovecot ever touches (or recreates) it
        time.sleep(0.5)
        try:
            with open(os.path.join(st.maildir(ALICE), "maildirsize")) as f:
                cls.carterod_maildirsize = f.read()
        except FileNotFoundError:
            cls.carterod_maildirsize = None
        # render the templates
        dv = os.path.join(st.tmp, "dovecot")
        os.makedirs(dv)
        os.chmod(dv, 0o755)
        cls.imaps, cls.pop3s = harness.free_port(), harness.free_port()
        cls.log_path = os.path.join(dv, "dovecot.log")
        sql_conf = os.path.join(dv, "dovecot-sql.conf.ext")
        common = {"MAIL_ROOT": st.mail_root, "MAIL_UID": cls.uid, "MAIL_GID": cls.gid}
        with open(sql_conf, "w") as f:
            f.write(harness.render_template(os.path.join(TEMPLATES, "dovecot-sql.conf.ext.in"),
                                            dict(common, CONFIG_DB=os.path.join(st.path, "config.db"))))
        if root:
            internal = "dovecot" if _user_exists("dovecot") else cls.user
            login = "dovenull" if _user_exists("dovenull") else internal
            group = grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name
            users = dict(INTERNAL_USER=internal, INTERNAL_GROUP=group, LOGIN_USER=login,
                         AUTH_USER=cls.user, LOGIN_CHROOT="login", ANVIL_CHROOT="empty")
        else:
            group = grp.getgrgid(cls.gid).gr_name
            users = dict(INTERNAL_USER=cls.user, INTERNAL_GROUP=group, LOGIN_USER=cls.user,
                         AUTH_USER=cls.user, LOGIN_CHROOT="", ANVIL_CHROOT="")
        cls.conf = os.path.join(dv, "dovecot.conf")
        with open(cls.conf, "w") as f:
            f.write(harness.render_template(os.path.join(TEMPLATES, "cartero.conf.in"), dict(
                common, **users, BASE_DIR=os.path.join(dv, "run"), STATE_DIR=os.path.join(dv, "state"),
                LOG_PATH=cls.log_path, LISTEN=HOST, IMAPS_PORT=cls.imaps, POP3S_PORT=cls.pop3s,
                TLS_CERT=st.cert, TLS_KEY=st.key, SQL_CONF=sql_conf)))
        os.makedirs(os.path.join(dv, "state"), exist_ok=True)
        cls.daemons.append(LogFile(cls.log_path))
        p = subprocess.run(["doveconf", "-c", cls.conf, "-n"], capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise AssertionError(f"doveconf rejects the rendered template: {p.stderr}")
        with open(os.path.join(dv, "dovecot.stdout"), "w") as out:
            cls.dovecot = subprocess.Popen(["dovecot", "-F", "-c", cls.conf], stdin=subprocess.DEVNULL,
                                           stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        harness.wait_until(lambda: (cls.dovecot.poll() is not None) or
                           (harness.port_open(cls.imaps) and harness.port_open(cls.pop3s)), 20,
                           what="Dovecot listening on its IMAPS and POP3S ports")
        if cls.dovecot.poll() is not None:
            raise AssertionError(f"dovecot exited with {cls.dovecot.returncode}: {LogFile(cls.log_path).log()[-3000:]}")

    @classmethod
    def _teardown(cls):
        dv = getattr(cls, "dovecot", None)
        if dv and dv.poll() is None:
            dv.send_signal(signal.SIGTERM)
            try:
                dv.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(dv.pid, signal.SIGKILL)
                dv.wait(5)
        if getattr(cls, "d", None):
            cls.d.kill()
        cls.state.cleanup()

    @classmethod
    def tearDownClass(cls):
        cls._teardown()

    def imap(self):
        m = imaplib.IMAP4_SSL(HOST, self.imaps, ssl_context=ssl_client_context(), timeout=20)
        self.addCleanup(lambda: _quietly(m.logout))
        return m

    # -------------------------------------------------------------------------------------
    def test_password_hash_verified_by_doveadm(self):
        db = sqlite3.connect(f"file:{os.path.join(self.state.path, 'config.db')}?mode=ro", uri=True)
        (h,) = db.execute("SELECT password_hash FROM mailboxes WHERE address = ?", (ALICE,)).fetchone()
        db.close()
        self.assertTrue(h.startswith("{CRYPT}$y$"), f"stored hash should be {{CRYPT}}$y$...: {h[:12]!r}")
        p = subprocess.run(["doveadm", "pw", "-t", h, "-p", PW], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, f"doveadm pw -t rejects the stored hash: {p.stdout}{p.stderr}")
        p = subprocess.run(["doveadm", "pw", "-t", h, "-p", PW + "x"], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0, "doveadm pw -t accepted a wrong password")

    def test_imaps_reads_delivered_message(self):
        m = self.imap()
        typ, _ = m.login(ALICE, PW)
        self.assertEqual(typ, "OK")
        typ, data = m.select("INBOX", readonly=True)
        self.assertEqual((typ, data[0]), ("OK", b"1"), f"INBOX over IMAP: {typ} {data}")
        typ, data = m.fetch("1", "(BODY.PEEK[])")
        self.assertEqual(typ, "OK")
        raw = data[0][1]
        self.assertIn(self.msgid.encode(), raw)
        self.assertTrue(raw.startswith(b"Return-Path:"), raw[:80])
        self.assertIn(b"Subject: for dovecot", raw)

    def test_imaps_login_case_insensitive_and_bad_password(self):
        m = self.imap()
        self.assertEqual(m.login(ALICE.upper(), PW)[0], "OK", "login with the address in upper case")
        m2 = self.imap()
        with self.assertRaises(imaplib.IMAP4.error, msg="IMAP LOGIN with a wrong password succeeded"):
            m2.login(ALICE, "wrong")

    def test_junk_special_use(self):
        m = self.imap()
        m.login(ALICE, PW)
        typ, data = m.list()
        junk = [l for l in data if l and b"Junk" in l]
        self.assertTrue(junk and b"\\Junk" in junk[0], f"LIST has no Junk folder with \\Junk: {data}")

    def test_spam_lands_in_junk_over_imap(self):
        m = self.imap()
        m.login(BOB, BOB_PW)
        typ, data = m.list()
        self.assertEqual(typ, "OK")
        names = [re.search(rb'"?([^" ]+)"?$', l).group(1) for l in data if l]
        self.assertIn(b"Junk", names, f"LIST: {data}")
        typ, data = m.select("Junk", readonly=True)
        self.assertEqual((typ, data[0]), ("OK", b"1"), f"SELECT Junk: {typ} {data}")
        typ, data = m.search(None, "ALL")
        self.assertEqual(len(data[0].split()), 1, f"SEARCH ALL in Junk: {data}")
        typ, data = m.fetch("1", "(BODY.PEEK[HEADER])")
        self.assertEqual(typ, "OK")
        head = data[0][1]
        self.assertIn(SPAM_ID.encode(), head)
        self.assertIn(b"X-Spam-Flag: YES", head)
        self.assertIn(b"RULE_JUNKME", head)
        typ, data = m.select("INBOX", readonly=True)
        self.assertEqual(typ, "OK", data)
        typ, data = m.search(None, "HEADER", "Message-ID", SPAM_ID)
        self.assertEqual(data[0].split(), [], "the spam message is also in INBOX")

    def test_carterod_wrote_maildirsize(self):
        self.assertIsNotNone(self.carterod_maildirsize, "carterod did not write maildirsize on delivery")
        lines = self.carterod_maildirsize.splitlines()
        self.assertIn(f"{QUOTA_KIB * 1024}S", lines[0].split(","),
                      f"maildirsize quota line for --quota 1M: {lines[0]!r}")
        size = sum(os.path.getsize(p) for p in self.state.messages(ALICE))
        self.assertEqual((sum(int(l.split()[0]) for l in lines[1:] if l.strip()),
                          sum(int(l.split()[1]) for l in lines[1:] if l.strip())), (size, 1),
                         f"carterod's maildirsize {lines} vs one message of {size} bytes on disk")

    def test_imap_quota_matches_maildirsize(self):
        m = self.imap()
        m.login(ALICE, PW)
        typ, data = m.getquotaroot("INBOX")
        self.assertEqual(typ, "OK", data)
        text = b" ".join(x if isinstance(x, bytes) else b" ".join(x) for x in data if x).decode()
        mo = re.search(r"STORAGE (\d+) (\d+)", text)
        self.assertIsNotNone(mo, f"GETQUOTAROOT has no STORAGE: {text}")
        used_kib, limit_kib = int(mo.group(1)), int(mo.group(2))
        self.assertEqual(limit_kib, QUOTA_KIB, f"Dovecot's limit vs --quota 1M: {text}")
        size = sum(os.path.getsize(p) for p in self.state.messages(ALICE))
        with open(os.path.join(self.state.maildir(ALICE), "maildirsize")) as f:
            lines = f.read().splitlines()
        md_bytes = sum(int(l.split()[0]) for l in lines[1:] if l.strip())
        self.assertEqual(md_bytes, size, f"maildirsize {lines} vs {size} bytes on disk")
        self.assertIn(used_kib, (size // 1024, (size + 1023) // 1024),
                      f"Dovecot quota used {used_kib} KiB vs {size} bytes on disk")

    def test_pop3s_reads_delivered_message(self):
        p = poplib.POP3_SSL(HOST, self.pop3s, context=ssl_client_context(), timeout=20)
        self.addCleanup(lambda: _quietly(p.quit))
        p.user(ALICE)
        self.assertTrue(p.pass_(PW).startswith(b"+OK"))
        count, _ = p.stat()
        self.assertEqual(count, 1, "POP3 STAT")
        lines = p.retr(1)[1]
        self.assertIn(self.msgid.encode(), b"\n".join(lines))

    def test_plain_ports_closed(self):
        dv = LogFile(self.log_path).log()
        self.assertNotRegex(dv, r"(?i)\b(fatal|panic)\b", "Dovecot logged a fatal error")
        out = subprocess.run(["doveconf", "-c", self.conf, "-h", "service/imap-login/inet_listener/imap/port"],
                             capture_output=True, text=True, timeout=30).stdout.strip()
        self.assertEqual(out, "0", "plain IMAP (143) must be disabled")

    def test_file_owner(self):
        md = self.state.maildir(ALICE)
        for p in [md] + self.state.messages(ALICE):
            self.assertEqual(os.stat(p).st_uid, self.uid, f"{p} not owned by the mail uid {self.uid}")


    def test_zz_delivery_after_dovecot_and_expunge(self):
        """carterod keeps delivering into a Maildir Dovecot has touched; Dovecot sees the new
        message; after an IMAP expunge both sides still agree on the usage."""
        m = self.imap()
        m.login(ALICE, PW)
        m.select("INBOX")
        msgid2 = "<second-for-dovecot@it.example>"
        c = SMTPClient(self.d.smtp)
        try:
            c.ehlo()
            code, text = c.send_mail("sender@remote.example", [ALICE], make_message(msgid2, size=3000))
        finally:
            c.close()
        self.assertEqual(code, 250, f"second message: {code} {text!r}")
        self.state.wait_msgid(ALICE, msgid2)

        def count():
            m.noop()
            typ, data = m.search(None, "ALL")
            return len(data[0].split())
        harness.wait_until(lambda: count() == 2, 10, what="Dovecot seeing 2 messages in INBOX")
        typ, data = m.search(None, "HEADER", "Message-ID", msgid2)
        self.assertEqual(len(data[0].split()), 1, f"Dovecot finds the second message: {data}")
        m.store(data[0].split()[0], "+FLAGS", "\\Deleted")
        m.expunge()
        typ, data = m.getquotaroot("INBOX")
        text = b" ".join(x if isinstance(x, bytes) else b" ".join(x) for x in data if x).decode()
        used_kib = int(re.search(r"STORAGE (\d+) (\d+)", text).group(1))
        size = sum(os.path.getsize(p) for p in self.state.messages(ALICE))
        self.assertEqual(len(self.state.messages(ALICE)), 1, "expunged file still on disk")
        self.assertIn(used_kib, (size // 1024, (size + 1023) // 1024),
                      f"after expunge: Dovecot says {used_kib} KiB, disk has {size} bytes")
        # and carterod's next delivery counts from Dovecot's updated maildirsize
        c = SMTPClient(self.d.smtp)
        try:
            c.ehlo()
            code, text = c.send_mail("sender@remote.example", [ALICE], make_message("<third@it.example>"))
        finally:
            c.close()
        self.assertEqual(code, 250)
        self.state.wait_msgid(ALICE, "<third@it.example>")
        time.sleep(0.3)
        with open(os.path.join(self.state.maildir(ALICE), "maildirsize")) as f:
            lines = f.read().splitlines()
        md = sum(int(l.split()[0]) for l in lines[1:] if l.strip())
        size = sum(os.path.getsize(p) for p in self.state.messages(ALICE))
        self.assertEqual(md, size, f"maildirsize after Dovecot's expunge and a new delivery: {lines} vs {size} bytes on disk")


def _user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _quietly(f):
    try:
        f()
    except Exception:
        pass


if __name__ == "__main__":
    if not (shutil.which("dovecot") or os.path.exists("/usr/sbin/dovecot")):
        print("SKIP: dovecot is not installed (apt-get install dovecot-imapd dovecot-pop3d dovecot-sqlite)")
        sys.exit(77)
    harness.main()
