"""Integration-test harness for Cartero: real binaries on loopback.

Everything here is bounded in time, binds to 127.0.0.1 only, and removes its temp dirs.

    from harness import StateDir, Carterod, SMTPClient, CarteroTestCase, main

The build dir comes from `--build-dir DIR` on the test's command line (CTest passes it), or from
the environment variable CARTERO_BUILD_DIR, or else the newest <repo>/build/*/ that holds both
binaries.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import glob
import os
import pwd
import grp
import re
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HOST = "127.0.0.1"

DOMAIN = "example.test"
OTHER_DOMAIN = "example.org"
HOSTNAME = "mx.example.test"

# ---------------------------------------------------------------------------------------------
# binaries


def _strip_build_dir_arg(argv):
    """Remove --build-dir DIR / --build-dir=DIR from argv; return (build_dir or None, rest)."""
    out, build = [], None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--build-dir" and i + 1 < len(argv):
            build = argv[i + 1]
            i += 2
            continue
        if a.startswith("--build-dir="):
            build = a.split("=", 1)[1]
            i += 1
            continue
        out.append(a)
        i += 1
    return build, out


def build_dir() -> str:
    d = os.environ.get("CARTERO_BUILD_DIR")
    if d:
        return os.path.abspath(d)
    cands = []
    for b in glob.glob(os.path.join(REPO, "build", "*")):
        ctl = os.path.join(b, "provisioning", "carteroctl")
        daemon = os.path.join(b, "daemon", "carterod")
        if os.path.isfile(ctl) and os.path.isfile(daemon):
            cands.append((max(os.path.getmtime(ctl), os.path.getmtime(daemon)), b))
    if not cands:
        raise RuntimeError("no build dir: pass --build-dir DIR or set CARTERO_BUILD_DIR "
                           "(expected DIR/provisioning/carteroctl and DIR/daemon/carterod)")
    return sorted(cands)[-1][1]


def binary(name: str) -> str:
    sub = {"carteroctl": "provisioning", "carterod": "daemon"}[name]
    p = os.path.join(build_dir(), sub, name)
    if not os.access(p, os.X_OK):
        raise RuntimeError(f"{name} not found or not executable at {p} (build it first)")
    return p


def main():
    """unittest.main() that understands --build-dir DIR."""
    build, rest = _strip_build_dir_arg(sys.argv)
    if build:
        os.environ["CARTERO_BUILD_DIR"] = os.path.abspath(build)
    unittest.main(argv=rest, verbosity=2)


# ---------------------------------------------------------------------------------------------
# ports, waiting


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (the kernel picks it; tiny reuse race accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_until(pred, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll pred() until truthy; return its value, or raise AssertionError after timeout s."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = pred()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what} (last value: {last!r})")
        time.sleep(interval)


def port_open(port: int, host: str = HOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------
# messages


def make_message(msgid: str | None = None, subject: str = "test", body: str = "hello\r\n",
                 sender: str = "sender@remote.example", to: str = f"alice@{DOMAIN}",
                 size: int = 0) -> bytes:
    """An RFC 5322 message with CRLF line ends; padded with 70-char lines to about size bytes."""
    msgid = msgid or f"<{time.time_ns()}.{threading.get_ident()}@test.example>"
    head = (f"From: <{sender}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
            f"Message-ID: {msgid}\r\nDate: Mon, 23 Nov 2026 07:00:00 +0000\r\n\r\n")
    text = head + body
    if size and len(text) < size:
        line = "x" * 68 + "\r\n"
        n = (size - len(text)) // len(line) + 1
        text += line * n
    return text.encode()


def header_of(raw: bytes, name: str):
    msg = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(raw, headersonly=True)
    return msg.get(name)


def ssl_client_context(verify_cert: str | None = None) -> ssl.SSLContext:
    """TLS client context; without verify_cert it does not verify (self-signed test certs)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify_cert:
        ctx.load_verify_locations(verify_cert)
        ctx.check_hostname = True
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


# ---------------------------------------------------------------------------------------------
# state dir + carteroctl


class StateDir:
    """A fresh Cartero state dir made by `carteroctl init`, in a temp dir removed by cleanup()."""

    def __init__(self, hostname: str = HOSTNAME, domains=(DOMAIN,), mailboxes=None,
                 config=None, parent: str | None = None):
        self.tmp = tempfile.mkdtemp(prefix="cartero-it-", dir=parent)
        self.path = os.path.join(self.tmp, "state")
        self.hostname = hostname
        self.passwords = {}
        self.ctl("init", "--hostname", hostname)
        for d in domains:
            self.ctl("domain", "add", d)
        for addr, spec in (mailboxes or {}).items():
            if isinstance(spec, str):
                spec = (spec, None)
            self.add_mailbox(addr, *spec)
        if config:
            self.set_config(config)

    # carteroctl --------------------------------------------------------------------------
    def ctl(self, *args, input: str | None = None, check: bool = True, timeout: float = 30):
        cmd = [binary("carteroctl"), "--state-dir", self.path, *args]
        try:
            p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"carteroctl {' '.join(args)} did not finish within {timeout}s")
        if check and p.returncode != 0:
            raise AssertionError(f"`carteroctl {' '.join(args)}` failed with exit {p.returncode}: "
                                 f"{p.stderr.strip()!r}")
        return p

    def add_mailbox(self, address: str, password: str, quota: str | None = None):
        args = ["mailbox", "add", address, "--password-stdin"]
        if quota:
            args += ["--quota", quota]
        self.ctl(*args, input=password + "\n")
        self.passwords[address] = password

    def add_forwarder(self, address: str, *dests: str, check: bool = True):
        return self.ctl("forwarder", "add", address, *dests, check=check)

    def set_config(self, settings: dict):
        """Set `key = value` in carterod.conf: an existing (uncommented) line for the key is
        rewritten in place, otherwise the line is appended."""
        with open(self.conf_path) as f:
            lines = f.read().splitlines()
        todo = dict(settings)
        for i, line in enumerate(lines):
            m = re.match(r"\s*([A-Za-z0-9_]+)\s*=", line)
            if m and m.group(1) in todo:
                lines[i] = f"{m.group(1)} = {todo.pop(m.group(1))}"
        if todo:
            lines.append("# integration test settings")
            lines += [f"{k} = {v}" for k, v in todo.items()]
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    # paths ----------------------------------------------------------------------------------
    @property
    def conf_path(self):
        return os.path.join(self.path, "carterod.conf")

    @property
    def mail_root(self):
        return os.path.join(self.path, "mail")

    @property
    def cert(self):
        return os.path.join(self.path, "tls", "cert.pem")

    @property
    def key(self):
        return os.path.join(self.path, "tls", "key.pem")

    def maildir(self, address: str) -> str:
        local, domain = address.rsplit("@", 1)
        return os.path.join(self.mail_root, domain, local)

    def messages(self, address: str, folder: str | None = None):
        """Paths of the messages in a Maildir (new/ and cur/; folder e.g. '.Junk'), sorted."""
        base = self.maildir(address)
        if folder:
            base = os.path.join(base, folder)
        out = []
        for sub in ("new", "cur"):
            d = os.path.join(base, sub)
            if os.path.isdir(d):
                out += [os.path.join(d, n) for n in os.listdir(d) if not n.startswith(".")]
        return sorted(out)

    def read_messages(self, address: str, folder: str | None = None):
        out = []
        for p in self.messages(address, folder):
            try:
                with open(p, "rb") as f:
                    out.append(f.read())
            except FileNotFoundError:  # moved new/ -> cur/ meanwhile
                pass
        return out

    def all_mail_files(self):
        """Every message file anywhere under mail/ (any mailbox, any folder)."""
        out = []
        for root, dirs, files in os.walk(self.mail_root):
            if os.path.basename(root) in ("new", "cur"):
                out += [os.path.join(root, f) for f in files]
        return sorted(out)

    def wait_messages(self, address: str, n: int, timeout: float = 10, folder=None):
        """Wait until the Maildir holds at least n messages; return their contents."""
        wait_until(lambda: len(self.messages(address, folder)) >= n, timeout,
                   what=f"{n} message(s) in the Maildir of {address} ({self.maildir(address)})")
        return self.read_messages(address, folder)

    def with_msgid(self, address: str, msgid: str, folder=None):
        """Contents of the messages in address's Maildir that carry this Message-ID."""
        key = msgid.encode()
        return [m for m in self.read_messages(address, folder) if key in m]

    def wait_msgid(self, address: str, msgid: str, timeout: float = 10, folder=None):
        """Wait until a message with msgid is in the Maildir; then return all copies of it."""
        wait_until(lambda: self.with_msgid(address, msgid, folder), timeout,
                   what=f"message {msgid} in the Maildir of {address}")
        return self.with_msgid(address, msgid, folder)

    def queue_snapshot(self):
        """(spool file count, {table: rows} for queue.db tables about messages/recipients)."""
        spool = os.path.join(self.path, "spool")
        nfiles = sum(len(f) for _, _, f in os.walk(spool)) if os.path.isdir(spool) else 0
        rows = {}
        qdb = os.path.join(self.path, "queue.db")
        if os.path.exists(qdb):
            try:
                db = sqlite3.connect(f"file:{qdb}?mode=ro", uri=True, timeout=5)
                for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'"):
                    if re.search(r"message|recipient|envelope|queue", t, re.I):
                        rows[t] = db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                db.close()
            except sqlite3.Error as e:
                rows["<error>"] = str(e)
        return nfiles, rows

    def chown(self, uid: int, gid: int):
        for root, dirs, files in os.walk(self.tmp):
            for n in dirs + files:
                os.lchown(os.path.join(root, n), uid, gid)
        os.lchown(self.tmp, uid, gid)

    def cleanup(self):
        if os.environ.get("CARTERO_IT_KEEP"):
            sys.stderr.write(f"\n[harness] CARTERO_IT_KEEP set: keeping {self.tmp}\n")
            return
        shutil.rmtree(self.tmp, ignore_errors=True)

    def queue_describe(self) -> str:
        """A short description of queue.db's contents (for failure messages)."""
        qdb = os.path.join(self.path, "queue.db")
        try:
            db = sqlite3.connect(f"file:{qdb}?mode=ro", uri=True, timeout=5)
            out = []
            for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"):
                n = db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                cols = [r[1] for r in db.execute(f'PRAGMA table_info("{t}")')]
                extra = ""
                for col in ("state", "status"):
                    if col in cols:
                        extra = " " + str(dict(db.execute(
                            f'SELECT "{col}", count(*) FROM "{t}" GROUP BY "{col}"').fetchall()))
                        break
                out.append(f"{t}={n}{extra}")
            db.close()
            return ", ".join(out)
        except sqlite3.Error as e:
            return f"queue.db unreadable: {e}"


# ---------------------------------------------------------------------------------------------
# carterod


class Carterod:
    """carterod on fresh 127.0.0.1 ports; stderr kept in a file (printed when a test fails)."""

    KINDS = ("smtp", "submission", "smtps")

    def __init__(self, state: StateDir, kinds=KINDS, trusted_networks=(), relayhost=None,
                 extra_args=(), run_as=None):
        self.state = state
        self.kinds = tuple(kinds)
        self.trusted_networks = tuple(trusted_networks)
        self.relayhost = relayhost
        self.extra_args = tuple(extra_args)
        self.run_as = run_as  # (uid, gid) → run under setpriv
        self.ports = {k: free_port() for k in self.kinds}
        self.log_path = os.path.join(state.tmp, "carterod.stderr")
        self.proc = None
        self.starts = 0

    @property
    def smtp(self):
        return self.ports["smtp"]

    @property
    def submission(self):
        return self.ports["submission"]

    @property
    def smtps(self):
        return self.ports["smtps"]

    def command(self):
        cmd = [binary("carterod"), "--state-dir", self.state.path]
        for k in self.kinds:
            cmd += ["--listen", f"{k}={HOST}:{self.ports[k]}"]
        for n in self.trusted_networks:
            cmd += ["--trusted-network", n]
        if self.relayhost:
            cmd += ["--relayhost", self.relayhost]
        cmd += list(self.extra_args)
        if self.run_as:
            uid, gid = self.run_as
            cmd = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *cmd]
        return cmd

    def log(self) -> str:
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def start(self, timeout: float = 20):
        """Start and wait for `event=ready` (and a listening line per kind)."""
        self.starts += 1
        logf = open(self.log_path, "a")
        logf.write(f"----- harness: start #{self.starts}: {' '.join(self.command())}\n")
        logf.flush()
        offset = logf.tell()
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=logf, start_new_session=True)
        logf.close()
        deadline = time.monotonic() + timeout
        while True:
            text = self.log()[offset:]
            if re.search(r"(^|\s|>)event=ready(\s|$)", text, re.M):
                break
            rc = self.proc.poll()
            if rc is not None:
                raise AssertionError(f"carterod exited with status {rc} before event=ready; "
                                     f"stderr:\n{text[-4000:]}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"carterod did not log event=ready within {timeout}s; "
                                     f"stderr:\n{text[-4000:]}")
            time.sleep(0.05)
        for k in self.kinds:
            want = f"{HOST}:{self.ports[k]}"
            if not re.search(rf"event=listening\b.*\bkind={k}\b.*\baddress={re.escape(want)}\b", text):
                raise AssertionError(f"carterod logged event=ready but no "
                                     f"`event=listening kind={k} address={want}`; stderr:\n{text[-3000:]}")
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.running():
            os.kill(self.proc.pid, sig)

    def stop(self, timeout: float = 20) -> int | None:
        """SIGTERM and wait; returns the exit status (SIGKILL + AssertionError after timeout)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"carterod did not exit within {timeout}s of SIGTERM")
        return self.proc.returncode

    def kill(self):
        """SIGKILL (the whole process group: setpriv execs, so it is carterod itself) and reap."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass

    def restart(self, timeout=20):
        self.stop()
        return self.start(timeout)


# ---------------------------------------------------------------------------------------------
# a raw SMTP client (for what smtplib hides: pipelining, bare CR/LF, BDAT, injection)


class SMTPError(AssertionError):
    pass


class SMTPClient:
    def __init__(self, port: int, host: str = HOST, timeout: float = 10, tls_ctx=None,
                 read_banner: bool = True):
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        if tls_ctx is not None:
            self.sock = tls_ctx.wrap_socket(self.sock, server_hostname=HOSTNAME)
        self.buf = b""
        self.banner = self.reply() if read_banner else None

    def send(self, data: bytes | str):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed by server")
        self.buf += chunk

    def readline(self) -> bytes:
        while b"\r\n" not in self.buf:
            if len(self.buf) > 100000:
                raise SMTPError("reply line longer than 100000 bytes")
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        """Read one (possibly multi-line) reply → (code:int, text:str with lines joined by \\n)."""
        lines = []
        while True:
            line = self.readline().decode("utf-8", "replace")
            if len(line) < 3 or not line[:3].isdigit():
                raise SMTPError(f"malformed reply line {line!r}")
            lines.append(line)
            if len(line) == 3 or line[3] == " ":
                break
            if line[3] != "-":
                raise SMTPError(f"malformed reply line {line!r}")
        code = int(lines[0][:3])
        for l in lines:
            if int(l[:3]) != code:
                raise SMTPError(f"multi-line reply with mixed codes: {lines!r}")
        return code, "\n".join(l[4:] for l in lines)

    def cmd(self, line: str):
        self.send(line + "\r\n")
        return self.reply()

    def expect(self, line: str, code: int, enhanced: str | None = None):
        c, t = self.cmd(line) if line is not None else self.reply()
        if c != code or (enhanced and not t.startswith(enhanced)):
            raise SMTPError(f"{line!r}: expected {code} {enhanced or ''}, got {c} {t!r}")
        return c, t

    def ehlo(self, name="client.example"):
        c, t = self.cmd(f"EHLO {name}")
        if c != 250:
            raise SMTPError(f"EHLO: expected 250, got {c} {t!r}")
        return t.split("\n")[1:]

    def starttls(self, ctx=None):
        c, t = self.cmd("STARTTLS")
        if c != 220:
            raise SMTPError(f"STARTTLS: expected 220, got {c} {t!r}")
        if self.buf:
            raise SMTPError(f"server sent bytes after its 220 to STARTTLS: {self.buf!r}")
        self.sock = (ctx or ssl_client_context()).wrap_socket(self.sock, server_hostname=HOSTNAME)
        return c, t

    def auth_plain(self, user, password):
        tok = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        return self.cmd(f"AUTH PLAIN {tok}")

    def auth_login(self, user, password):
        c, t = self.cmd("AUTH LOGIN")
        if c != 334:
            return c, t
        c, t = self.cmd(base64.b64encode(user.encode()).decode())
        if c != 334:
            return c, t
        return self.cmd(base64.b64encode(password.encode()).decode())

    def send_mail(self, sender, rcpts, data: bytes):
        """MAIL/RCPT/DATA; returns the final (code, text). Raises on an unexpected reply before."""
        self.expect(f"MAIL FROM:<{sender}>", 250)
        for r in ([rcpts] if isinstance(rcpts, str) else rcpts):
            self.expect(f"RCPT TO:<{r}>", 250)
        self.expect("DATA", 354)
        self.send(dot_stuff(data) + b".\r\n")
        return self.reply()

    def closed_by_server(self, timeout=5) -> bool:
        """True if the server closes the connection (EOF or reset) within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except (ConnectionError, ssl.SSLError):
            return True
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(self.timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def dot_stuff(data: bytes) -> bytes:
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    lines = data.split(b"\r\n")
    return b"\r\n".join((b"." + l if l.startswith(b".") else l) for l in lines[:-1]) + b"\r\n"


# ---------------------------------------------------------------------------------------------
# test base class


class CarteroTestCase(unittest.TestCase):
    """Prints the tail of every registered carterod's stderr when a test fails."""

    daemons: list = []

    def setUp(self):
        # A class-wide carterod that died in an earlier test is restarted, so that one crash
        # does not turn every later test of the class into "connection refused".
        for d in type(self).daemons:
            if isinstance(d, Carterod) and d.proc is not None and not d.running():
                sys.stderr.write(f"\n[harness] carterod had died (exit status {d.proc.returncode}); "
                                 f"restarting it for {self.id()}\n")
                d.start()
        self._log_offsets = {id(d): len(d.log()) for d in self._all_daemons()}

    def _all_daemons(self):
        return list(type(self).daemons) + list(getattr(self, "_inst_daemons", []))

    def watch(self, daemon):
        if not hasattr(self, "_inst_daemons"):
            self._inst_daemons = []
        self._inst_daemons.append(daemon)
        if not hasattr(self, "_log_offsets"):
            self._log_offsets = {}
        self._log_offsets.setdefault(id(daemon), len(daemon.log()))
        return daemon

    def _failed(self):
        """Did this test (or one of its subtests) fail so far? (tearDown runs before the
        result is final, so look at the result's failure and error lists.)"""
        outcome = getattr(self, "_outcome", None)
        result = getattr(outcome, "result", None)
        if result is None or not hasattr(result, "failures"):
            return True
        for t, _ in list(result.failures) + list(result.errors):
            if t is self or getattr(t, "test_case", None) is self:
                return True
        return False

    def tearDown(self):
        died = [d for d in type(self).daemons if isinstance(d, Carterod) and d.proc is not None
                and not d.running()]
        if died:
            rc = died[0].proc.returncode
            how = f"signal {-rc}" if rc < 0 else f"exit status {rc}"
            self._dump_logs()
            raise AssertionError(f"carterod died during this test ({how}); its stderr is above")
        if self._failed():
            self._dump_logs()

    def _dump_logs(self):
        for d in self._all_daemons():
            text = d.log()
            start = max(0, self._log_offsets.get(id(d), 0) - 2000)
            sys.stderr.write(f"\n===== stderr/log ({d.log_path}) during {self.id()} =====\n")
            sys.stderr.write(text[start:][-12000:])
            sys.stderr.write("\n===== end of log =====\n")


def mail_user():
    """(name, uid, gid) that owns Maildirs in the Dovecot test: Dovecot refuses uid 0 for mail.

    Root: $CARTERO_IT_MAIL_USER, else the appliance's `cartero` user if present, else Debian's
    `mail` (uid 8). Not root: the current user."""
    if os.geteuid() != 0:
        pw = pwd.getpwuid(os.geteuid())
        return pw.pw_name, pw.pw_uid, pw.pw_gid
    for name in (os.environ.get("CARTERO_IT_MAIL_USER"), "cartero", "mail"):
        if not name:
            continue
        try:
            pw = pwd.getpwnam(name)
            return name, pw.pw_uid, pw.pw_gid
        except KeyError:
            continue
    raise RuntimeError("no usable mail user (set CARTERO_IT_MAIL_USER)")


def render_template(path: str, values: dict) -> str:
    with open(path) as f:
        text = f.read()
    for k, v in values.items():
        text = text.replace(f"@{k}@", str(v))
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise AssertionError(f"template {path}: placeholders not replaced: {sorted(set(left))}")
    return text
