"""GTSM on incoming connections: the listener keeps each SYN's headers and the TTL it arrived
with decides (on loopback no hop takes one off, so the sender's TTL is what arrives)."""

from __future__ import annotations

import socket

import pytest

from bgpvpn.runtime.sockets import gtsm_admits, gtsm_listener, save_syn, syn_ttl


def _accept_from(listener: socket.socket, ttl: int) -> tuple[socket.socket, socket.socket]:
    """A connection to ``listener`` from a client sending with ``ttl``: (client, accepted)."""
    family = listener.family
    client = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_INET:
        client.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
    else:
        client.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
    client.settimeout(5)
    client.connect(listener.getsockname()[:2])
    listener.settimeout(5)
    conn, _ = listener.accept()
    return client, conn


@pytest.mark.parametrize(
    ("family", "host"), [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")]
)
def test_syn_ttl_decides_gtsm(family: int, host: str) -> None:
    with socket.socket(family, socket.SOCK_STREAM) as listener:
        assert save_syn(listener)
        listener.bind((host, 0))
        listener.listen()
        for ttl, admitted in ((255, {1: True, 2: True}), (254, {1: False, 2: True}), (64, {})):
            client, conn = _accept_from(listener, ttl)
            with client, conn:
                assert syn_ttl(conn) == ttl
                assert syn_ttl(conn) is None  # read once: the kernel frees it
            for hops in (1, 2):
                client, conn = _accept_from(listener, ttl)
                with client, conn:
                    assert gtsm_admits(conn, hops) is admitted.get(hops, False)


def test_no_saved_syn_is_not_admitted() -> None:
    with socket.socket() as listener:  # save_syn not called
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client, conn = _accept_from(listener, 255)
        with client, conn:
            assert syn_ttl(conn) is None
            assert not gtsm_admits(conn, 1)


def test_gtsm_listener_answers_with_ttl_255() -> None:
    for family in (socket.AF_INET, socket.AF_INET6):
        with socket.socket(family, socket.SOCK_STREAM) as listener:
            assert gtsm_listener(listener)
            assert listener.getsockopt(socket.IPPROTO_IP, socket.IP_TTL) == 255
            if family == socket.AF_INET6:
                assert listener.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS) == 255
