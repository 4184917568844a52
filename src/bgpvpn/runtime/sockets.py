"""Socket options for BGP: TCP MD5 signatures (RFC2385) and GTSM (RFC5082), where the kernel
allows them. Each function raises ``OSError`` with a readable message when it does not."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import struct

TCP_MD5SIG = 14  # linux/tcp.h
TCP_SAVE_SYN = 27  # linux/tcp.h
TCP_SAVED_SYN = 28
IP_MINTTL = 21  # linux/in.h
IPV6_MINHOPCOUNT = 73  # linux/in6.h
_MD5_KEY_MAX = 80


def _sockaddr_storage(address: str) -> bytes:
    ip = ipaddress.ip_address(address)
    if ip.version == 4:
        raw = struct.pack("=H", socket.AF_INET) + b"\x00\x00" + ip.packed
    else:
        raw = struct.pack("=H", socket.AF_INET6) + b"\x00\x00" + b"\x00" * 4 + ip.packed
    return raw.ljust(128, b"\x00")


def set_md5_key(sock: socket.socket, peer_address: str, key: bytes) -> None:
    """Sign (and require signatures on) TCP segments to/from ``peer_address`` with ``key``; an
    empty key removes the signature. Works on listening and connecting sockets."""
    if len(key) > _MD5_KEY_MAX:
        raise OSError(f"TCP MD5 key is {len(key)} octets; the kernel takes at most 80")
    value = (
        _sockaddr_storage(peer_address)
        + struct.pack("=BBHI", 0, 0, len(key), 0)
        + key.ljust(_MD5_KEY_MAX, b"\x00")
    )
    try:
        sock.setsockopt(socket.IPPROTO_TCP, TCP_MD5SIG, value)
    except OSError as e:
        raise OSError(e.errno, f"TCP MD5 signatures are not available here: {e.strerror}") from None


def set_gtsm(sock: socket.socket, hops: int) -> None:
    """RFC5082: send with TTL 255 and drop segments whose TTL shows more than ``hops`` hops."""
    min_ttl = 256 - hops
    if sock.family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MINHOPCOUNT, min_ttl)
    else:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
        sock.setsockopt(socket.IPPROTO_IP, IP_MINTTL, min_ttl)


def save_syn(listener: socket.socket) -> bool:
    """Have the kernel keep each accepted connection's SYN headers (``syn_ttl`` reads them);
    False where it cannot."""
    try:
        listener.setsockopt(socket.IPPROTO_TCP, TCP_SAVE_SYN, 1)
    except OSError:
        return False
    return True


def gtsm_listener(listener: socket.socket) -> bool:
    """A listener that GTSM peers connect to: it answers their SYN with TTL 255 (a GTSM peer
    drops a SYN-ACK from farther than its hops) and keeps each SYN's headers for
    ``gtsm_admits``. False when the kernel keeps no SYN (incoming GTSM connections are then
    refused; ours still go out)."""
    with contextlib.suppress(OSError):
        listener.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
    if listener.family == socket.AF_INET6:
        with contextlib.suppress(OSError):
            listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
    return save_syn(listener)


def syn_ttl(sock: socket.socket) -> int | None:
    """The TTL (IPv4) or hop limit (IPv6) the connection's SYN arrived with, from the headers
    the listener saved (``save_syn``); None when there are none. Reading frees them."""
    try:
        head = sock.getsockopt(socket.IPPROTO_TCP, TCP_SAVED_SYN, 512)
    except OSError:
        return None
    if len(head) >= 20 and head[0] >> 4 == 4:
        return head[8]
    if len(head) >= 40 and head[0] >> 4 == 6:
        return head[7]
    return None


def gtsm_admits(sock: socket.socket, hops: int) -> bool:
    """RFC5082 for a connection a peer opened to our listener: its SYN came at most ``hops``
    hops (TTL at least 256 - hops). The socket's minimum TTL set afterwards covers only what
    arrives later, so the SYN is what tells; no saved SYN: not admitted."""
    ttl = syn_ttl(sock)
    return ttl is not None and ttl >= 256 - hops
