"""Graceful restart, receiving side (RFC4724 4.2): which stale families the speaker flushes
when the restarted peer's session comes back."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from bgpvpn.config import Config
from bgpvpn.rib import PeerInfo
from bgpvpn.runtime.speaker import Speaker, stale_families_to_flush
from bgpvpn.session import SessionDown
from bgpvpn.wire.capabilities import GracefulRestart, GracefulRestartFamily
from bgpvpn.wire.family import IPV4_UNICAST, VPNV4
from rib.helpers import LOCAL_ADDR, attrs, prefix, update

KEPT = frozenset({IPV4_UNICAST, VPNV4})


def test_no_capability_in_the_new_open_flushes_everything() -> None:
    assert stale_families_to_flush(KEPT, None) == KEPT


def test_forwarding_bit_keeps_a_family_until_end_of_rib() -> None:
    gr = GracefulRestart(
        30,
        restarting=True,
        families=(GracefulRestartFamily(IPV4_UNICAST, True), GracefulRestartFamily(VPNV4, True)),
    )
    assert stale_families_to_flush(KEPT, gr) == frozenset()


def test_clear_forwarding_bit_or_missing_family_flushes_it() -> None:
    gr = GracefulRestart(30, families=(GracefulRestartFamily(IPV4_UNICAST, False),))
    assert stale_families_to_flush(KEPT, gr) == KEPT
    gr = GracefulRestart(30, restarting=True, families=(GracefulRestartFamily(VPNV4, True),))
    assert stale_families_to_flush(KEPT, gr) == frozenset({IPV4_UNICAST})


def test_nothing_kept_nothing_flushed() -> None:
    assert stale_families_to_flush(frozenset(), None) == frozenset()


# ------------------------------------------------- the speaker's handling of SessionDown


PEER = "192.0.2.7"


def _speaker_with_stale_routes() -> tuple[Speaker, Any]:
    """A speaker whose peer sent two ipv4 routes, then dropped gracefully (GR for ipv4 only
    while ipv4 and vpnv4 were negotiated)."""
    config = Config.model_validate(
        {
            "bgp": {
                "asn": 65000,
                "router_id": "192.0.2.1",
                "peers": [{"address": PEER, "asn": 65000}],
            }
        }
    )
    sp = Speaker(config)
    sp.loop = SimpleNamespace(time=lambda: 0.0)  # type: ignore[assignment]
    info = PeerInfo(PEER, bytes((192, 0, 2, 7)), 65000, bytes((192, 0, 2, 7)), True, LOCAL_ADDR)
    sp.rib.peer_up(info, frozenset({IPV4_UNICAST, VPNV4}))
    sp.rib.receive(PEER, update(info, [prefix(1), prefix(2)], attrs()), 0.0)
    runner = SimpleNamespace(
        config=SimpleNamespace(peer_address=PEER),
        session=SimpleNamespace(
            negotiated=SimpleNamespace(
                families=frozenset({IPV4_UNICAST, VPNV4}),
                graceful_families=frozenset({IPV4_UNICAST}),
                graceful_restart=GracefulRestart(
                    30, families=(GracefulRestartFamily(IPV4_UNICAST, True),)
                ),
            )
        ),
    )
    sp._on_event(runner, SessionDown("connection closed", None, None, True, True))  # type: ignore[arg-type]
    return sp, runner


def test_graceful_down_keeps_the_gr_families_stale() -> None:
    sp, _ = _speaker_with_stale_routes()
    entries = list(sp.rib.adj_rib_in(PEER, IPV4_UNICAST))
    assert len(entries) == 2 and all(e.stale for e in entries)
    assert sp.peers[PEER].stale_families == frozenset({IPV4_UNICAST})


def test_failed_reconnection_attempt_keeps_the_stale_routes() -> None:
    """A connection of the restarted peer that ends before Established (was_established
    False) must not end the graceful restart: the stale routes stay until the restart time."""
    sp, runner = _speaker_with_stale_routes()
    sp._on_event(runner, SessionDown("OPEN rejected", None, None, False, False))
    entries = list(sp.rib.adj_rib_in(PEER, IPV4_UNICAST))
    assert len(entries) == 2 and all(e.stale for e in entries)
    assert sp.rib.lookup(IPV4_UNICAST, prefix(1)) is not None
    assert sp.peers[PEER].stale_families == frozenset({IPV4_UNICAST})
