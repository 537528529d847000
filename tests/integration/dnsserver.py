# tests/integration/dnsserver.py — a real authoritative DNS server (Knot) on 127.0.0.1 for the
# Python integration tests: temp dir with knot.conf + zone files, start, set_zone/reload, stop.
#
#     from dnsserver import KnotServer, knot_available
#     with KnotServer({"example.com": 'www A 192.0.2.1\n@ MX 10 mx1\n'}) as dns:
#         carterod ... --resolver 127.0.0.1:{dns.port}    (or dns.address)
#         dns.set_zone("example.com", "www A 192.0.2.2\n")  # served on return
#
# A zone text without an SOA gets "$ORIGIN zone.", "$TTL 1", an SOA (serial growing with each
# set_zone, all timers short) and "NS localhost." in front, so tests write only the records they
# need. Everything (config, zones, rundir, LMDB storage, knotd.log) lives in one temp dir that
# stop() removes. Every step has a time limit; knotd gets PR_SET_PDEATHSIG so it dies with the
# test process. Pure standard library: runs under any python3 (DESIGN.md: Debian's modules need
# /usr/bin/python3, this file needs none).
from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import Optional

PR_SET_PDEATHSIG = 1


def _which(name: str) -> Optional[str]:
    path = os.environ.get("PATH", "") + ":/usr/sbin:/usr/bin:/sbin:/bin"
    return shutil.which(name, path=path)


def knot_available() -> bool:
    """knotd, knotc and kdig are installed (tests skip otherwise)."""
    return all(_which(p) for p in ("knotd", "knotc", "kdig"))


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 at the time of asking."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port on 127.0.0.1")


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: knotd gets SIGTERM when the test process dies.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except Exception:  # noqa: BLE001 — best effort; stop() is the normal path
        pass


class KnotServer:
    """knotd serving `zones` ({"example.com": "zone text"}) on 127.0.0.1:port."""

    def __init__(self, zones: dict[str, str], start: bool = True, start_timeout: float = 10.0):
        self.zones: dict[str, str] = {z.rstrip("."): t for z, t in zones.items()}
        self.start_timeout = start_timeout
        self.serial = 1
        self.port = 0
        self.dir: Optional[str] = None
        self.proc: Optional[subprocess.Popen] = None
        if start:
            self.start()

    # ---- public ---------------------------------------------------------------------------

    @property
    def address(self) -> str:
        """ "127.0.0.1:PORT", the form carterod --resolver and carteroctl take."""
        return f"127.0.0.1:{self.port}"

    @property
    def config_path(self) -> str:
        assert self.dir
        return os.path.join(self.dir, "knot.conf")

    def start(self) -> "KnotServer":
        if self.proc:
            return self
        self.dir = tempfile.mkdtemp(prefix="cartero-knot-")
        for d in ("run", "db", "zones"):
            os.mkdir(os.path.join(self.dir, d))
        for name, text in self.zones.items():
            self._write_zone(name, text)
        last = ""
        for _ in range(3):  # a port taken between probe and bind: try another
            self.port = free_port()
            self._write_config()
            log = open(os.path.join(self.dir, "knotd.log"), "wb")
            try:
                self.proc = subprocess.Popen(
                    [_which("knotd") or "knotd", "-c", self.config_path],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    preexec_fn=_die_with_parent, close_fds=True)
            finally:
                log.close()
            if all(self._wait_served(z, self.start_timeout) for z in self.zones):
                return self
            last = self.log()
            self._kill()
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None
        raise RuntimeError(f"knotd did not start; last log:\n{last}")

    def set_zone(self, zone: str, text: str, timeout: float = 10.0) -> None:
        """Replace (or add) a zone and reload; returns once knotd serves the new content."""
        zone = zone.rstrip(".")
        added = zone not in self.zones
        self.zones[zone] = text
        self.serial += 1
        self._write_zone(zone, text)
        if added:
            self._write_config()
            self._knotc("reload")
        else:
            self._knotc("-b", "zone-reload", zone)
        if not self._wait_served(zone, timeout):
            raise RuntimeError(f"zone {zone} not served after reload; log:\n{self.log()}")

    def stop(self) -> None:
        """SIGTERM, SIGKILL after 5 s; removes the temp dir. Idempotent."""
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._kill()
            self.proc = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def log(self) -> str:
        if not self.dir:
            return ""
        try:
            with open(os.path.join(self.dir, "knotd.log"), encoding="utf-8",
                      errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def query(self, name: str, rtype: str = "A", timeout: float = 3.0) -> list[str]:
        """kdig +short against this server: the answer's RDATA lines (for test assertions)."""
        r = subprocess.run([_which("kdig") or "kdig", "@127.0.0.1", "-p", str(self.port),
                            "+short", "+time=1", "+retry=0", rtype, name],
                           capture_output=True, text=True, timeout=timeout)
        return [l for l in r.stdout.splitlines() if l and not l.startswith(";;")]

    def __enter__(self) -> "KnotServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __del__(self):
        try:
            self.stop()
        except Exception:  # noqa: BLE001
            pass

    # ---- private --------------------------------------------------------------------------

    def _zone_text(self, zone: str, text: str) -> str:
        out = f"$ORIGIN {zone}.\n$TTL 1\n"
        if "SOA" not in text:
            out += (f"@ 1 SOA localhost. hostmaster.{zone}. {self.serial} 3600 600 86400 1\n"
                    "@ 1 NS localhost.\n")
        return out + text + "\n"

    def _write_zone(self, zone: str, text: str) -> None:
        assert self.dir
        path = os.path.join(self.dir, "zones", zone + ".zone")
        with open(path + ".tmp", "w", encoding="utf-8") as f:  # written aside, then renamed
            f.write(self._zone_text(zone, text))
        os.replace(path + ".tmp", path)

    def _write_config(self) -> None:
        assert self.dir
        d = self.dir
        lines = [
            "# knot.conf written by tests/integration/dnsserver.py",
            "server:",
            f'    rundir: "{d}/run"',
            f"    listen: 127.0.0.1@{self.port}",
            "    udp-workers: 1", "    tcp-workers: 1", "    background-workers: 1",
            "database:", f'    storage: "{d}/db"',
            "log:", "  - target: stderr", "    any: info",
            "control:", f'    listen: "{d}/run/knot.sock"',
            "template:", "  - id: default", f'    storage: "{d}/zones"',
            "    zonefile-sync: -1", "    zonefile-load: whole", "    journal-content: none",
            "zone:",
        ]
        for z in self.zones:
            lines += [f'  - domain: "{z}."', f'    file: "{z}.zone"']
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")

    def _knotc(self, *args: str) -> None:
        r = subprocess.run([_which("knotc") or "knotc", "-c", self.config_path, *args],
                           capture_output=True, text=True, timeout=15)
        if r.returncode != 0:
            raise RuntimeError(f"knotc {' '.join(args)} failed: {r.stdout}{r.stderr}")

    def _wait_served(self, zone: str, timeout: float) -> bool:
        """kdig gets the zone's SOA (with our serial, when we wrote the SOA)."""
        ours = "SOA" not in self.zones[zone]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                soa = self.query(zone + ".", "SOA")
            except subprocess.TimeoutExpired:
                soa = []
            if soa:
                fields = soa[0].split()  # mname rname serial refresh retry expire minimum
                if len(fields) >= 3 and (not ours or fields[2] == str(self.serial)):
                    return True
            time.sleep(0.03)
        return False

    def _kill(self) -> None:
        if self.proc:
            self.proc.kill()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self.proc = None


if __name__ == "__main__":  # self-check: python3 dnsserver.py
    if not knot_available():
        print("knotd not installed")
        raise SystemExit(77)
    t0 = time.monotonic()
    with KnotServer({"example.com": "www A 192.0.2.1\n@ MX 10 mx1\n"}) as k:
        assert k.query("www.example.com") == ["192.0.2.1"], k.query("www.example.com")
        k.set_zone("example.com", "www A 192.0.2.2\n")
        assert k.query("www.example.com") == ["192.0.2.2"]
        k.set_zone("other.example", '@ TXT "hello"\n')
        assert k.query("other.example", "TXT") == ['"hello"']
        d = k.dir
    assert d and not os.path.exists(d)
    print(f"ok in {time.monotonic() - t0:.2f}s")
