#!/usr/bin/env python3
"""Browser test of cartero-panel: starts carterod and cartero-panel on loopback ports with a
fresh state dir, then runs panel.test.mjs (playwright-core driving Debian's chromium).

    /usr/bin/python3 tests/e2e/run_e2e.py --build-dir build/X [--artifacts DIR]
                                         [--update-docs-screenshot]

Exit 77 (CTest: skipped) only when chromium is not installed. Screenshots of every page go to
the artifacts dir (default <build-dir>/tests/e2e/artifacts); --update-docs-screenshot also copies
the dashboard one to docs/screenshots/dashboard.png (done by hand, never in CI).
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

SKIP = 77
NODE_TIMEOUT = 220  # s; CTest's TIMEOUT (300) covers start-up and shutdown on top


def make_state(harness):
    """A fresh harness.StateDir that keeps what `carteroctl init` printed (the initial admin)."""

    class State(harness.StateDir):
        init_output = ""

        def ctl(self, *args, **kw):
            p = super().ctl(*args, **kw)
            if args and args[0] == "init":
                self.init_output = p.stdout
            return p

    return State(hostname="mx.panel.example", domains=())


def start_panel(harness, state, log_path):
    binary = os.path.join(harness.build_dir(), "webui", "cartero-panel")
    if not os.access(binary, os.X_OK):
        raise SystemExit(f"e2e: cartero-panel not found at {binary} (build the target cartero-panel)")
    port = harness.free_port()
    cmd = [binary, "--state-dir", state.path, "--listen", f"127.0.0.1:{port}",
           "--static-dir", os.path.join(REPO, "webui", "static"),
           # Small lockout thresholds keep the lockout step short; the IP limit stays high so
           # that only the account under test is locked.
           "--login-max-failures-account", "3", "--login-max-failures-ip", "1000",
           "--lockout-seconds", "600"]
    logf = open(log_path, "a")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                            start_new_session=True)
    logf.close()
    harness.wait_until(lambda: harness.port_open(port) or proc.poll() is not None, 15,
                       what="cartero-panel listening")
    if proc.poll() is not None:
        with open(log_path, errors="replace") as f:
            raise SystemExit(f"e2e: cartero-panel exited with {proc.returncode}:\n{f.read()[-3000:]}")
    return proc, port


def stop(proc):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def tail(path, n=4000):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--artifacts")
    ap.add_argument("--update-docs-screenshot", action="store_true")
    args = ap.parse_args()
    build = os.path.abspath(args.build_dir)
    os.environ["CARTERO_BUILD_DIR"] = build
    artifacts = os.path.abspath(args.artifacts or os.path.join(build, "tests", "e2e", "artifacts"))

    chromium = os.environ.get("CARTERO_CHROMIUM", "/usr/bin/chromium")
    if not os.access(chromium, os.X_OK):
        print(f"e2e: SKIP: chromium not installed ({chromium}); scripts/install-deps installs it")
        return SKIP
    node = shutil.which("node")
    if not node:
        print("e2e: node not found (scripts/install-deps installs nodejs)")
        return 1
    if not os.path.isfile(os.path.join(HERE, "node_modules", "playwright-core", "package.json")):
        print("e2e: tests/e2e/node_modules is missing: run `npm ci` in tests/e2e "
              "(scripts/install-deps does)")
        return 1

    import harness  # after CARTERO_BUILD_DIR is set

    shutil.rmtree(artifacts, ignore_errors=True)
    os.makedirs(artifacts)
    state = make_state(harness)
    carterod = panel = None
    panel_log = os.path.join(state.tmp, "panel.stderr")
    rc = 1
    try:
        m = re.search(r"^panel admin: (\S+)\npanel password: (\S+)$", state.init_output or "", re.M)
        if not m:
            print(f"e2e: `carteroctl init` printed no initial admin:\n{state.init_output}")
            return 1
        admin_user, admin_pw = m.group(1), m.group(2)
        state.ctl("admin", "add", "lockme", "--password-stdin", input="lock-me-password-1\n")
        carterod = harness.Carterod(state, kinds=("smtp",), trusted_networks=("127.0.0.0/8",)).start()
        panel, port = start_panel(harness, state, panel_log)
        env = dict(os.environ,
                   PANEL_URL=f"https://127.0.0.1:{port}",
                   SMTP_PORT=str(carterod.smtp),
                   CLOSED_PORT=str(harness.free_port()),  # nothing listens: deliveries defer
                   ADMIN_USER=admin_user, ADMIN_PASSWORD=admin_pw,
                   LOCK_USER="lockme", LOCK_PASSWORD="lock-me-password-1",
                   ARTIFACTS=artifacts, CHROMIUM=chromium)
        t0 = time.monotonic()
        try:
            p = subprocess.run([node, os.path.join(HERE, "panel.test.mjs")], env=env, cwd=HERE,
                               timeout=NODE_TIMEOUT)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            print(f"e2e: the browser test did not finish within {NODE_TIMEOUT} s")
            rc = 1
        print(f"e2e: browser test finished in {time.monotonic() - t0:.1f} s with exit {rc}; "
              f"screenshots in {artifacts}")
        if rc == 0 and args.update_docs_screenshot:
            dest = os.path.join(REPO, "docs", "screenshots", "dashboard.png")
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copyfile(os.path.join(artifacts, "dashboard.png"), dest)
            print(f"e2e: copied the dashboard screenshot to {dest}")
    finally:
        stop(panel)
        if carterod:
            carterod.stop()
        if rc != 0:
            print("\n===== cartero-panel log =====\n" + tail(panel_log))
            if carterod:
                print("\n===== carterod log =====\n" + carterod.log()[-6000:])
        state.cleanup()
    return rc


if __name__ == "__main__":
    sys.exit(main())
