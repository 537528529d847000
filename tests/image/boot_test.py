#!/usr/bin/python3
"""tests/image/boot_test.py — build a test customer's image and boot it under QEMU (TCG).

  /usr/bin/python3 tests/image/boot_test.py --build-dir build/release [--keep]

Steps (each prints PASS/FAIL; the last line is the count): image/build for a generated spec
(qcow2 to boot, vmdk and vhdx checked with qemu-img check); QEMU q35 + OVMF (a per-run copy
of the vars), -netdev user,restrict=on with hostfwd to random 127.0.0.1 ports; the serial
marker CARTERO-READY with no failed units and the root filesystem grown to the enlarged disk;
the admin-password credential applied on first boot; SMTP banner and a message to a
provisioned mailbox on 25; IMAPS login on 993 reads it back; the panel over HTTPS when the
package ships cartero-panel; QMP system_powerdown ends QEMU with exit 0. Hard timeouts
everywhere; needs root (image/build does).
"""
import argparse
import imaplib
import json
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"
BUILD_TIMEOUT = 900   # cold: base ≈ 5–7 min + image ≈ 1–2 min
READY_TIMEOUT = 420   # TCG boot to multi-user is 30–45 s idle, far more on a loaded machine
POWERDOWN_TIMEOUT = 120
DISK_SIZE = 3 * 1024**3
GROWN_SIZE = 4 * 1024**3

SPEC = """\
version: 1
customer: boottest
domains:
  primary: boot.example
admin_email: admin@boot.example
hostnames:
  - name: mx1.boot.example
    mx_preference: 10
ips:
  - address: 192.0.2.10
    hostname: mx1.boot.example
    pool: default
mailboxes:
  - address: alice@boot.example
"""

results = []


def report(name, ok, detail=""):
    results.append(ok)
    print(f"{'PASS' if ok else 'FAIL'}: {name}{' — ' + detail if detail else ''}", flush=True)
    return ok


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_serial(path, marker, deadline, proc):
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return None
        try:
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            text = ""
        if marker in text:
            return text
        time.sleep(1)
    return None


def qmp(sock_path, command):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(sock_path)
        f = s.makefile("rw")
        json.loads(f.readline())  # greeting
        for cmd in ({"execute": "qmp_capabilities"}, {"execute": command}):
            f.write(json.dumps(cmd) + "\n")
            f.flush()
            while True:
                reply = json.loads(f.readline())
                if "return" in reply or "error" in reply:
                    break
            if "error" in reply:
                raise RuntimeError(reply["error"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the run directory")
    ap.add_argument("--deb", help="use this package instead of making one with cpack")
    args = ap.parse_args()
    build_dir = os.path.abspath(args.build_dir)
    run = os.path.join(build_dir, "tests", "image", "run")
    shutil.rmtree(run, ignore_errors=True)
    os.makedirs(run)
    spec = os.path.join(run, "boottest.yaml")
    with open(spec, "w") as f:
        f.write(SPEC)
    out = os.path.join(run, "out")

    # --- build -----------------------------------------------------------------------------
    t = time.monotonic()
    deb = os.path.abspath(args.deb) if args.deb else make_deb(run, build_dir)
    has_panel = "/cartero-panel\n" in subprocess.run(["dpkg-deb", "-c", deb], capture_output=True,
                                                      text=True, check=True).stdout
    build = subprocess.run(
        [os.path.join(REPO, "image", "build"), spec, "--out", out, "--deb", deb,
         "--format", "qcow2,vmdk,vhdx", "--size", str(DISK_SIZE)],
        timeout=BUILD_TIMEOUT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    build_s = time.monotonic() - t
    if not report("image/build", build.returncode == 0, f"{build_s:.0f} s"):
        print(build.stdout[-6000:])
        return finish(run, args.keep)
    for fmt in ("qcow2", "vmdk", "vhdx"):
        img = os.path.join(out, f"boottest.{fmt}")
        chk = subprocess.run(["qemu-img", "check", img], capture_output=True, text=True, timeout=120)
        report(f"qemu-img check {fmt}", chk.returncode == 0,
               f"{os.path.getsize(img) / 1048576:.0f} MiB" if chk.returncode == 0 else chk.stderr.strip())
    secrets = os.path.join(out, "customer", "secrets")
    mode = os.stat(os.path.join(secrets, "mailboxes", "alice@boot.example")).st_mode & 0o777
    report("mailbox password file stays outside the image, 0600", mode == 0o600, oct(mode))
    with open(os.path.join(secrets, "mailboxes", "alice@boot.example")) as f:
        alice_pw = f.read().strip()

    # --- boot ------------------------------------------------------------------------------
    disk = os.path.join(out, "boottest.qcow2")
    # A larger virtual disk than the image was built for: first boot must grow root into it.
    subprocess.run(["qemu-img", "resize", "-q", disk, str(GROWN_SIZE)], check=True, timeout=60)
    vars_copy = os.path.join(run, "OVMF_VARS.fd")
    shutil.copy(OVMF_VARS, vars_copy)
    ports = {g: free_port() for g in (25, 993, 443)}
    fwd = ",".join(f"hostfwd=tcp:127.0.0.1:{p}-:{g}" for g, p in ports.items())
    serial = os.path.join(run, "serial.log")
    qmp_sock = os.path.join(run, "qmp.sock")
    admin_pw = uuid.uuid4().hex
    cmd = ["qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-m", "1536", "-smp", "2",
           "-nodefaults", "-display", "none", "-no-user-config",
           "-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
           "-drive", f"if=pflash,format=raw,file={vars_copy}",
           "-drive", f"file={disk},if=virtio,format=qcow2",
           "-netdev", f"user,id=n0,restrict=on,{fwd}", "-device", "virtio-net-pci,netdev=n0",
           "-serial", f"file:{serial}", "-qmp", f"unix:{qmp_sock},server=on,wait=off",
           "-smbios", f"type=11,value=io.systemd.credential:cartero.admin-password={admin_pw}"]
    t = time.monotonic()
    qemu = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(os.path.join(run, "qemu.err"), "w"))
    try:
        text = wait_serial(serial, "CARTERO-READY", time.monotonic() + READY_TIMEOUT, qemu)
        ready_s = time.monotonic() - t
        if not report("serial marker CARTERO-READY", text is not None, f"{ready_s:.0f} s after QEMU start"):
            print(tail(serial))
            return finish(run, args.keep)
        failed = line_after(text, "cartero-ready: failed units:")
        report("systemctl --failed is empty", failed == "none", failed)
        root_bytes = int(line_after(text, "cartero-ready: root filesystem bytes:") or 0)
        report("root filesystem grown to the disk", root_bytes > DISK_SIZE,
               f"{root_bytes / 1024**3:.2f} GiB on a {GROWN_SIZE / 1024**3:.0f} GiB disk")
        report("admin password credential applied on first boot",
               "admin password for admin@boot.example set from the credential" in text)
        check_mail(ports, alice_pw)
        if has_panel:
            check_panel(ports[443])
        else:
            print("SKIP: panel over HTTPS (the package has no cartero-panel)")
        try:
            qmp(qmp_sock, "system_powerdown")
            rc = qemu.wait(timeout=POWERDOWN_TIMEOUT)
            report("QMP system_powerdown → QEMU exits 0", rc == 0, f"exit {rc}")
        except (subprocess.TimeoutExpired, OSError, RuntimeError) as e:
            report("QMP system_powerdown → QEMU exits 0", False, repr(e))
    finally:
        if qemu.poll() is None:
            qemu.kill()
            qemu.wait()
    sizes = {f: os.path.getsize(os.path.join(out, f"boottest.{f}")) for f in ("qcow2", "vmdk", "vhdx")}
    print(f"times: build {build_s:.0f} s, boot to ready {ready_s:.0f} s; sizes: " +
          ", ".join(f"{k} {v / 1048576:.0f} MiB" for k, v in sizes.items()))
    return finish(run, args.keep)


def make_deb(run, build_dir):
    pkg = os.path.join(run, "pkg")
    subprocess.run(["cpack", "-G", "DEB", "--config", os.path.join(build_dir, "CPackConfig.cmake"),
                    "-B", pkg], check=True, capture_output=True, timeout=300)
    return next(os.path.join(pkg, f) for f in os.listdir(pkg) if f.endswith(".deb"))


def check_mail(ports, alice_pw):
    subject = f"boot test {uuid.uuid4().hex}"
    try:
        with smtplib.SMTP(timeout=60) as s:
            code, banner = s.connect("127.0.0.1", ports[25])
            banner_ok = code == 220 and s.ehlo()[0] == 250
            msg = f"From: someone@example.org\r\nTo: alice@boot.example\r\nSubject: {subject}\r\n\r\nhello\r\n"
            refused = s.sendmail("someone@example.org", ["alice@boot.example"], msg)
        report("SMTP on 25: EHLO, message to alice@boot.example accepted", banner_ok and not refused)
    except (OSError, smtplib.SMTPException) as e:
        report("SMTP on 25: EHLO, message to alice@boot.example accepted", False, repr(e))
        return
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    found = False
    deadline = time.monotonic() + 60
    try:
        with imaplib.IMAP4_SSL("127.0.0.1", ports[993], ssl_context=ctx, timeout=60) as m:
            m.login("alice@boot.example", alice_pw)
            while time.monotonic() < deadline and not found:
                m.select("INBOX")
                typ, data = m.search(None, "SUBJECT", f'"{subject}"')
                found = typ == "OK" and bool(data[0].split())
                if not found:
                    time.sleep(2)
        report("IMAPS on 993: alice logs in and reads the message", found)
    except (OSError, imaplib.IMAP4.error) as e:
        report("IMAPS on 993: alice logs in and reads the message", False, repr(e))


def check_panel(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(f"https://127.0.0.1:{port}/", context=ctx, timeout=60) as r:
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    except OSError as e:
        report("panel answers over HTTPS on 443", False, repr(e))
        return
    report("panel answers over HTTPS on 443", status < 500, f"HTTP {status}")


def line_after(text, prefix):
    for line in text.splitlines():
        i = line.find(prefix)
        if i >= 0:
            return line[i + len(prefix):].strip()
    return None


def tail(path, n=60):
    try:
        with open(path, "rb") as f:
            return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])
    except FileNotFoundError:
        return "(no serial output)"


def finish(run, keep):
    failed = results.count(False)
    print(f"image boot test: {results.count(True)} passed, {failed} failed")
    if not keep and failed == 0:
        shutil.rmtree(run, ignore_errors=True)
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
