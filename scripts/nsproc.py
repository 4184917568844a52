"""Network namespaces, commands and processes in them: what scripts/capture_golden.py and the
interop tests' harness (tests/interop/harness.py, which puts scripts/ on its import path)
share (the BGP daemons they run: peerd.py). Standard library only, so that
``python3 scripts/capture_golden.py`` runs without the project's environment.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any


class CommandError(RuntimeError):
    """A command failed or timed out; the users' own errors (LabError, CaptureError) derive
    from it, and ``wait_until`` polls again after one."""


def run(
    argv: Sequence[str],
    ns: str | None = None,
    check: bool = True,
    timeout: float = 30.0,
    env: dict[str, str] | None = None,
    error: type[CommandError] = CommandError,
) -> str:
    """The standard output of ``argv`` (in namespace ``ns``); ``error`` on a timeout, or on a
    non-zero exit status when ``check``."""
    full = ["ip", "netns", "exec", ns, *argv] if ns else list(argv)
    try:
        cp = subprocess.run(
            full, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise error(f"timeout running {' '.join(full)}") from exc
    if check and cp.returncode != 0:
        raise error(
            f"{' '.join(full)} -> rc {cp.returncode}: {cp.stderr.strip()} {cp.stdout.strip()[:800]}"
        )
    return cp.stdout


def wait_until(
    what: str,
    fn: Callable[[], Any],
    timeout: float,
    interval: float,
    detail: Callable[[], Any] | None = None,
    error: type[Exception] = AssertionError,
) -> Any:
    """Poll ``fn`` until it returns something truthy and return that; a ``CommandError``,
    ``ValueError``, ``KeyError`` or ``OSError`` counts as not yet. Raises ``error`` naming
    ``what`` (and ``detail()``) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        try:
            value = fn()
            if value:
                return value
            last = None
        except (CommandError, ValueError, KeyError, OSError) as exc:
            last = exc
        if time.monotonic() > deadline:
            extra = f" (last error: {last})" if last else ""
            if detail is not None:
                try:
                    extra += f"\n{detail()}"
                except Exception as exc:  # only for the message
                    extra += f"\n(detail failed: {exc})"
            raise error(f"timed out after {timeout:.0f}s waiting for {what}{extra}")
        time.sleep(interval)


# ---------------------------------------------------------------------------- topology


# (``error``: what ``run`` raises when a command fails)


def veth(ns1: str, if1: str, ns2: str, if2: str, error: type[CommandError] = CommandError) -> None:
    """A veth pair, ``if1`` in ``ns1`` and ``if2`` in ``ns2`` (both down, no address)."""
    argv = ["ip", "link", "add", if1, "netns", ns1, "type", "veth", "peer", "name", if2]
    run([*argv, "netns", ns2], error=error)


def add_addresses(
    ns: str, dev: str, addrs: Iterable[str], error: type[CommandError] = CommandError
) -> None:
    """Addresses on ``dev`` (IPv6 without duplicate address detection), then ``dev`` up."""
    for a in addrs:
        extra = ["nodad"] if ":" in a else []
        run(["ip", "-n", ns, "addr", "add", a, "dev", dev, *extra], error=error)
    run(["ip", "-n", ns, "link", "set", dev, "up"], error=error)


def evpn_vni_setup(
    ns: str,
    local_ip: str,
    mac: str,
    host_ip: str,
    bridge_ip: str,
    error: type[CommandError] = CommandError,
) -> None:
    """VXLAN VNI 100 + bridge + one MAC/IP so FRR's zebra originates E-VPN type-2/3."""
    ip = ["ip", "-n", ns]
    vxlan = ["vxlan100", "type", "vxlan", "id", "100", "local", local_ip, "dstport", "4789"]
    for argv in (
        [*ip, "link", "add", "br100", "type", "bridge"],
        [*ip, "link", "add", *vxlan, "nolearning"],
        [*ip, "link", "set", "vxlan100", "master", "br100"],
        [*ip, "link", "add", "vh100", "type", "veth", "peer", "name", "vh100b"],
        [*ip, "link", "set", "vh100", "address", mac],
        [*ip, "link", "set", "vh100b", "master", "br100"],
        *([*ip, "link", "set", dev, "up"] for dev in ("br100", "vxlan100", "vh100", "vh100b")),
        [*ip, "addr", "add", bridge_ip, "dev", "br100"],
        [*ip, "neigh", "replace", host_ip, "lladdr", mac, "dev", "br100", "nud", "permanent"],
        ["bridge", "-n", ns, "fdb", "replace", mac, "dev", "vh100b", "master", "static"],
    ):
        run(argv, error=error)


# -------------------------------------------------------------------------------- FRR


def frr_files(d: Path, tag: str, bgpd_conf: str, error: type[CommandError] = CommandError) -> None:
    """bgpd.conf and zebra.conf of an FRR instance in run directory ``d``, owned by user frr."""
    (d / "bgpd.conf").write_text(bgpd_conf)
    (d / "zebra.conf").write_text(f"hostname frr-{tag}\n")
    run(["chown", "-R", "frr:frr", str(d)], error=error)


def frr_argv(daemon: str, d: Path) -> list[str]:
    """The command line of FRR's ``zebra`` or ``bgpd`` (``-n``: no kernel install) with its
    configuration, PID file, log and sockets (vty, zserv.api) in ``d``."""
    return [
        f"/usr/lib/frr/{daemon}",
        *(["-n"] if daemon == "bgpd" else []),
        *("-f", str(d / f"{daemon}.conf"), "-i", str(d / f"{daemon}.pid")),
        *("--vty_socket", str(d), "-z", str(d / "zserv.api"), "-P", "0"),
        *("--log", f"file:{d}/{daemon}.log"),
    ]


# --------------------------------------------------------------------------- processes


def start(
    ns: str,
    argv: Sequence[str],
    log: Path,
    env: dict[str, str] | None = None,
    stderr_pipe: bool = False,
) -> subprocess.Popen[bytes]:
    """``argv`` in namespace ``ns`` (``ip netns exec`` execs, so the PID is the program's), in
    its own session, output appended to ``log`` (standard error piped if ``stderr_pipe``)."""
    with open(log, "ab") as logf:
        return subprocess.Popen(
            ["ip", "netns", "exec", ns, *argv],
            stdout=logf,
            stderr=subprocess.PIPE if stderr_pipe else subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )


def stop(p: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 8.0) -> None:
    """``sig`` to a process we started, SIGKILL if it has not ended after ``timeout``."""
    if p.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p.pid, sig)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGKILL)
            p.wait(5)


def kill_namespace_pids(ns: str) -> None:
    """Stop what still runs in one of the caller's own namespaces (children its daemons
    forked): SIGTERM, then SIGKILL."""
    for sig, pause in ((signal.SIGTERM, 1.0), (signal.SIGKILL, 0.3)):
        out = subprocess.run(
            ["ip", "netns", "pids", ns], capture_output=True, text=True, check=False
        )
        pids = [int(x) for x in out.stdout.split()]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        time.sleep(pause)


def delete_namespace(ns: str) -> None:
    """``kill_namespace_pids``, then the namespace deleted (no error if it is gone)."""
    kill_namespace_pids(ns)
    subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
