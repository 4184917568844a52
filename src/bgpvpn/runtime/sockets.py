"""Socket options for BGP: TCP MD5 signatures (RFC2385) and GTSM (RFC5082), where the kernel
allows them. Each function raises ``OSError`` with a readable message when it does not."""

from __future__ import annotations

import ipaddress
import socket
import struct

TCP_MD5SIG = 14  # linux/tcp.h
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
