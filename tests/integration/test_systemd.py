#!/usr/bin/env python3
"""carterod under systemd's protocols, with systemd's own tools where they exist:
sd_notify (READY, WATCHDOG, RELOADING, STOPPING) over a real NOTIFY_SOCKET datagram socket,
and socket activation through systemd-socket-activate with named fds (smtp, submission)."""

import os
import signal
import socket
import subprocess
import tempfile
import time

import harness
from harness import HOST, SMTPClient, StateDir


class NotifySocket:
    """An AF_UNIX datagram socket standing in for systemd's notify socket."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []

    def collect(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass
        return self.messages

    def wait_for(self, needle, seconds=10):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if any(needle in m.split("\n") for m in self.messages):
                return True
            self.collect(0.2)
        return False

    def close(self):
        self.sock.close()


class SdNotify(harness.CarteroTestCase):
    def test_ready_watchdog_reload_stopping(self):
        st = StateDir()
        self.addCleanup(st.cleanup)
        notify = NotifySocket(st.tmp)
        self.addCleanup(notify.close)
        port = harness.free_port()
        env = dict(os.environ, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="400000")
        proc = subprocess.Popen([harness.binary("carterod"), "--state-dir", st.path,
                                 "--listen", f"smtp={HOST}:{port}"],
                                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        self.assertTrue(notify.wait_for("READY=1"), f"no READY=1 in {notify.messages}")
        # READY only once the port accepts connections.
        c = SMTPClient(port)
        self.assertIn("ESMTP", c.banner[1])
        c.cmd("QUIT")
        c.sock.close()
        # WatchdogSec=0.4s → a ping at least every 0.2 s; count them over 1.5 s.
        before = sum(m.split("\n").count("WATCHDOG=1") for m in notify.messages)
        notify.collect(1.5)
        pings = sum(m.split("\n").count("WATCHDOG=1") for m in notify.messages) - before
        self.assertGreaterEqual(pings, 4, f"only {pings} WATCHDOG=1 pings in 1.5 s")
        # SIGHUP: RELOADING=1 then READY=1 again.
        notify.messages.clear()
        proc.send_signal(signal.SIGHUP)
        self.assertTrue(notify.wait_for("RELOADING=1"), f"no RELOADING=1 in {notify.messages}")
        self.assertTrue(notify.wait_for("READY=1"), f"no READY=1 after reload: {notify.messages}")
        # SIGTERM: STOPPING=1 and a clean exit.
        proc.send_signal(signal.SIGTERM)
        self.assertTrue(notify.wait_for("STOPPING=1"), f"no STOPPING=1 in {notify.messages}")
        self.assertEqual(proc.wait(20), 0)


class SocketActivation(harness.CarteroTestCase):
    def test_named_fds_map_to_listener_kinds(self):
        st = StateDir(mailboxes={f"alice@{harness.DOMAIN}": "pw-alice"})
        self.addCleanup(st.cleanup)
        smtp_port, sub_port = harness.free_port(), harness.free_port()
        log = open(os.path.join(st.tmp, "activate.log"), "w")
        self.addCleanup(log.close)
        proc = subprocess.Popen(
            ["systemd-socket-activate", "-l", f"{HOST}:{smtp_port}", "-l", f"{HOST}:{sub_port}",
             "--fdname=smtp:submission",
             harness.binary("carterod"), "--state-dir", st.path],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        self.addCleanup(lambda: proc.poll() is None and os.killpg(proc.pid, signal.SIGKILL))
        harness.wait_until(lambda: harness.port_open(sub_port), 10, what="activated listener")
        # The first connection makes systemd-socket-activate exec carterod with both fds.
        sub = SMTPClient(sub_port, timeout=20)
        sub.ehlo()
        code, text = sub.cmd("MAIL FROM:<alice@example.test>")
        self.assertEqual(code, 530, f"submission fd must require AUTH, got {code} {text}")
        sub.cmd("QUIT")
        sub.sock.close()
        mx = SMTPClient(smtp_port, timeout=20)
        mx.ehlo()
        mx.expect("MAIL FROM:<someone@remote.example>", 250)
        mx.expect(f"RCPT TO:<alice@{harness.DOMAIN}>", 250)
        mx.cmd("QUIT")
        mx.sock.close()
        with open(os.path.join(st.tmp, "activate.log")) as f:
            text = f.read()
        self.assertIn("activated=yes", text)
        # carterod's own listeners were not used: the file's defaults (port 25) were never bound.
        self.assertNotIn(":25 ", text)
        os.killpg(proc.pid, signal.SIGTERM)
        self.assertEqual(proc.wait(20), 0)


if __name__ == "__main__":
    harness.main()
