"""Hosts wired together in memory (iBGP full mesh through the real codec): VPN routes between
hosts, and RFC7432 15 MAC mobility."""

from __future__ import annotations

from bgpvpn.dataplane.model import NextHop, RemoteMac
from bgpvpn.wire.family import EVPN

from .helpers import Mesh, evpn_att, ext, host, in_sync, local, vrf_att

MAC = "52:54:00:00:00:42"


def test_ipvpn_between_hosts_even_vni_round_trips() -> None:
    a, b = host(1), host(2)
    mesh = Mesh(a, b)
    a.vpn.attach(vrf_att("tap1", "52:54:00:00:00:01", "10.1.0.5/24"))
    b.vpn.attach(vrf_att("tap2", "52:54:00:00:00:02", "10.1.0.6/24"))
    mesh.pump()
    ra, rb = a.vpn.instance("vrf"), b.vpn.instance("vrf")
    assert ra.vni == rb.vni == 1000
    (route,) = b.driver.snapshot()["vrf"].routes
    assert route.prefix == "10.1.0.5/32"
    assert route.next_hops == (NextHop("192.0.2.1", 1000, ra.router_mac),)
    (route,) = a.driver.snapshot()["vrf"].routes
    assert route.next_hops == (NextHop("192.0.2.2", 1000, rb.router_mac),)


def _seq(h: object) -> int | None:
    """The MAC Mobility sequence on h's type-2 routes for MAC (None: not advertised)."""
    seqs = set()
    for r, a, _ in local(h.rib, EVPN).values():  # type: ignore[attr-defined]
        if r.route_type == 2 and r.mac.hex(":") == MAC:
            mm = [e for e in ext(a) if e.startswith("mac-mobility:")]
            seqs.add(int(mm[0].split(":")[1]) if mm else 0)
    assert len(seqs) <= 1
    return seqs.pop() if seqs else None


def _where(h: object) -> set[str]:
    """Where h's data plane sends MAC: 'local' or remote VTEPs."""
    snap = h.driver.snapshot().get("evi")  # type: ignore[attr-defined]
    if snap is None:
        return set()
    out = {m.vtep for m in snap.remote_macs if m.mac == MAC}
    if any(p.mac == MAC for p in snap.ports) and _seq(h) is not None:
        out.add("local")
    return out


def test_mac_moves_a_to_b_to_a() -> None:
    a, b, c = host(1), host(2), host(3)
    mesh = Mesh(a, b, c)
    c.vpn.attach(evpn_att("tapc", "52:54:00:00:00:0c"))  # an observer
    b.vpn.attach(evpn_att("tapb0", "52:54:00:00:00:0b"))  # B's EVI exists (RT membership sent)
    a.vpn.attach(evpn_att("tapa0", "52:54:00:00:00:0a"))  # so does A's, with other ports
    a.vpn.attach(evpn_att("tapa", MAC, "10.0.0.42/24"))
    mesh.pump()
    assert _seq(a) == 0
    assert _where(a) == {"local"} and _where(b) == {"192.0.2.1"} and _where(c) == {"192.0.2.1"}

    # the VM moves to B: B knows the MAC from A with sequence 0 and advertises 1
    b.vpn.attach(evpn_att("tapb", MAC, "10.0.0.42/24"))
    assert _seq(b) == 1
    mesh.pump()
    # A sees a higher sequence: withdraws its own type-2s, the port stays attached
    assert _seq(a) is None
    assert ("tapa", MAC) in {(p.port, p.mac) for p in a.vpn.instance("evi").ports}
    assert _where(a) == {"192.0.2.2"} and _where(b) == {"local"} and _where(c) == {"192.0.2.2"}
    assert set(a.driver.snapshot()["evi"].remote_macs) >= {
        RemoteMac(MAC, "192.0.2.2", 1000, "10.0.0.42"),
        RemoteMac(MAC, "192.0.2.2", 1000),
    }

    # A's old port goes; later the VM moves back: attached at A while B still has it, A
    # advertises 2; B withdraws, then its port goes
    a.vpn.detach("evi", "tapa")
    mesh.pump()
    assert _where(a) == {"192.0.2.2"}
    a.vpn.attach(evpn_att("tapa", MAC, "10.0.0.42/24"))
    assert _seq(a) == 2
    mesh.pump()
    assert _seq(b) is None
    b.vpn.detach("evi", "tapb")
    mesh.pump()
    assert _where(a) == {"local"} and _where(b) == {"192.0.2.1"} and _where(c) == {"192.0.2.1"}
    for h in (a, b, c):
        assert in_sync(h)


def test_mac_comes_back_while_still_attached() -> None:
    """A keeps the port attached (suppressed); the VM returns: attaching it again at A wins
    with the remote sequence + 1, and B, still attached, withdraws."""
    a, b = host(1), host(2)
    mesh = Mesh(a, b)
    b.vpn.attach(evpn_att("tapb0", "52:54:00:00:00:0b"))
    a.vpn.attach(evpn_att("tapa", MAC))
    mesh.pump()
    b.vpn.attach(evpn_att("tapb", MAC))
    mesh.pump()
    assert (_seq(a), _seq(b)) == (None, 1)
    a.vpn.attach(evpn_att("tapa", MAC))
    assert _seq(a) == 2
    mesh.pump()
    assert (_seq(a), _seq(b)) == (2, None)
    assert _where(a) == {"local"} and _where(b) == {"192.0.2.1"}
    # B's suppressed port is detached; then A's is: nothing is left anywhere
    b.vpn.detach("evi", "tapb")
    mesh.pump()
    assert _where(a) == {"local"}
    a.vpn.detach("evi", "tapa")
    mesh.pump()
    assert "evi" not in a.driver.snapshot()
    assert b.driver.snapshot()["evi"].remote_macs == ()


def test_equal_sequence_lowest_vtep_wins() -> None:
    a, b = host(1), host(2)
    a.vpn.attach(evpn_att("tapa", MAC))
    b.vpn.attach(evpn_att("tapb", MAC))
    mesh = Mesh(a, b)  # both advertised sequence 0 before they met
    mesh.pump()
    assert (_seq(a), _seq(b)) == (0, None)  # 192.0.2.1 < 192.0.2.2
    assert _where(b) == {"192.0.2.1"}
