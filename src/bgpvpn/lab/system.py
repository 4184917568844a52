"""What the lab does to the system: network namespaces and veth pairs (iproute2), processes
started inside namespaces (recorded by PID and start time so that a PID reused by someone else
is never signalled), and HTTP calls to a daemon's API on a namespace's loopback (a socket opened
by a thread that entered the namespace with setns(2)).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000


class SystemError_(RuntimeError):
    """A command the lab ran failed (message: the command and its error output)."""


def run(
    argv: Sequence[str], ns: str | None = None, check: bool = True, timeout: float = 30.0
) -> subprocess.CompletedProcess[str]:
    full = ["ip", "netns", "exec", ns, *argv] if ns else list(argv)
    try:
        cp = subprocess.run(full, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise SystemError_(f"timeout after {timeout:.0f}s: {' '.join(full)}") from None
    except FileNotFoundError:
        raise SystemError_(f"not installed: {full[0]}") from None
    if check and cp.returncode != 0:
        err = (cp.stderr.strip() or cp.stdout.strip())[:800]
        raise SystemError_(f"{' '.join(full)} -> exit {cp.returncode}: {err}")
    return cp


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(["ip", *args], check=check)


# ------------------------------------------------------------------------- namespaces


def netns_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def netns_list() -> list[str]:
    try:
        return sorted(p.name for p in NETNS_DIR.iterdir())
    except FileNotFoundError:
        return []


def netns_add(name: str, forwarding: bool) -> None:
    ip("netns", "add", name)
    ip("-n", name, "link", "set", "lo", "up")
    sysctls = ["net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"]
    if forwarding:
        sysctls += [
            "net.ipv4.ip_forward=1",
            "net.ipv6.conf.all.forwarding=1",
            "net.ipv4.conf.all.rp_filter=0",
            "net.ipv4.conf.default.rp_filter=0",
        ]
    run(["sysctl", "-qw", *sysctls], ns=name, check=False)


def netns_pids(name: str) -> list[int]:
    cp = run(["ip", "netns", "pids", name], check=False)
    return [int(x) for x in cp.stdout.split() if x.isdigit()]


def netns_delete(name: str) -> None:
    """Stop whatever still runs in the namespace (only the lab's own namespaces are passed
    here), then delete it. Idempotent."""
    if not netns_exists(name):
        return
    for sig, pause in ((signal.SIGTERM, 1.0), (signal.SIGKILL, 0.5)):
        pids = netns_pids(name)
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + pause
        while time.monotonic() < deadline and netns_pids(name):
            time.sleep(0.05)
    ip("netns", "del", name, check=False)


def veth(
    ns1: str,
    if1: str,
    ns2: str,
    if2: str,
    mtu: int | None = None,
    mac2: str | None = None,
) -> None:
    argv = ["link", "add", if1, "netns", ns1, "type", "veth", "peer", "name", if2, "netns", ns2]
    if mac2:
        argv += ["address", mac2]
    ip(*argv)
    for ns, dev in ((ns1, if1), (ns2, if2)):
        if mtu:
            ip("-n", ns, "link", "set", dev, "mtu", str(mtu))
        ip("-n", ns, "link", "set", dev, "up")


def add_addresses(ns: str, dev: str, addrs: Sequence[str]) -> None:
    for a in addrs:
        extra = ["nodad"] if ":" in a else []
        ip("-n", ns, "addr", "add", a, "dev", dev, *extra)


def add_route(ns: str, words: str) -> None:
    v6 = ["-6"] if ":" in words.split()[0] else []
    ip("-n", ns, *v6, "route", "replace", *words.split())


# -------------------------------------------------------------------------- processes


def proc_start_time(pid: int) -> int | None:
    """The process's start time (clock ticks since boot), or None when it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # the command name (field 2) may contain spaces and ")": split after the last ")"
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[19])  # field 22 of proc(5), counted from field 3


def proc_alive(pid: int, start_time: int | None) -> bool:
    """The recorded process still runs (same PID and start time, and not a zombie)."""
    now = proc_start_time(pid)
    if now is None or (start_time is not None and now != start_time):
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclass
class Started:
    pid: int
    start_time: int | None


def start_in_netns(
    ns: str, argv: Sequence[str], log: Path, env: dict[str, str] | None = None
) -> Started:
    """Start ``argv`` inside ``ns`` in its own session (it outlives ``lab up``), output to
    ``log``. ``ip netns exec`` execs the command, so the PID is the daemon's."""
    with open(log, "ab") as logf:
        popen = subprocess.Popen(
            ["ip", "netns", "exec", ns, *argv],
            stdout=logf,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    # Popen objects would reap the child when garbage collected; the lab keeps only the PID
    popen.returncode = 0  # tell Popen's finalizer there is nothing to wait for
    return Started(popen.pid, proc_start_time(popen.pid))


def stop_process(pid: int, start_time: int | None, timeout: float = 8.0) -> bool:
    """SIGTERM, then SIGKILL, only while it is the same process. True when it was running."""
    if not proc_alive(pid, start_time):
        _reap(pid)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not proc_alive(pid, start_time):
            return True
        time.sleep(0.05)
    if proc_alive(pid, start_time):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and proc_alive(pid, start_time):
        _reap(pid)
        time.sleep(0.05)
    return True


def _reap(pid: int) -> None:
    """Collect our own exited child (when ``lab up`` and ``down`` run in one process)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


# ------------------------------------------------------------- HTTP inside a namespace

_libc: Any = None


def _setns_libc() -> Any:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _libc


def connect_in_netns(ns: str, host: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection opened from inside ``ns`` (a socket keeps the namespace it was created
    in, so the thread that entered the namespace can end right after)."""
    result: list[Any] = []

    def worker() -> None:
        try:
            fd = os.open(str(NETNS_DIR / ns), os.O_RDONLY)
            try:
                if _setns_libc().setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns({ns}): {os.strerror(err)}")
            finally:
                os.close(fd)
            result.append(socket.create_connection((host, port), timeout=timeout))
        except BaseException as e:
            result.append(e)

    t = threading.Thread(target=worker, name=f"netns-{ns}", daemon=True)
    t.start()
    t.join(timeout + 5)
    if not result:
        raise OSError(f"connecting to {host}:{port} in {ns} timed out")
    if isinstance(result[0], BaseException):
        raise result[0]
    sock: socket.socket = result[0]
    return sock


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def http_json(
    ns: str,
    port: int,
    method: str,
    path: str,
    body: Any = None,
    timeout: float = 10.0,
    host: str = "127.0.0.1",
) -> Any:
    """One JSON request to ``http://host:port/path`` as seen from inside ``ns``. Raises
    ``HttpError`` (status 0: not reachable) on failure."""
    try:
        sock = connect_in_netns(ns, host, port, timeout)
    except OSError as e:
        raise HttpError(0, f"cannot reach {host}:{port} in {ns}: {e}") from None
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    conn.sock = sock
    try:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
    except (OSError, http.client.HTTPException) as e:
        raise HttpError(0, f"{method} {path} in {ns}: {e}") from None
    finally:
        conn.close()
    try:
        doc = json.loads(raw) if raw else None
    except ValueError:
        doc = raw.decode(errors="replace")
    if resp.status >= 400:
        raise HttpError(resp.status, f"{method} {path} -> HTTP {resp.status}: {_err_text(doc)}")
    return doc


def _err_text(doc: Any) -> str:
    if isinstance(doc, dict):
        err = doc.get("error")
        if isinstance(err, dict):
            return f"{err.get('field')}: {err.get('reason')}"
        if "detail" in doc:
            return json.dumps(doc["detail"])[:400]
    return json.dumps(doc)[:400] if not isinstance(doc, str) else doc[:400]


def which(binary: str) -> str | None:
    if "/" in binary:
        return binary if Path(binary).exists() else None
    return shutil.which(binary)
