"""How bgpvpn recognises its own kernel objects (so reconcile and close touch nothing else).

======================  ===============================================================
object                  tag
======================  ===============================================================
E-VPN bridge            name ``bvbr-<index>``, alias ``bgpvpn:evpn:<instance id>``
E-VPN VXLAN device      name ``bvx-<index>``, alias ``bgpvpn:evpn:<instance id>``
IP VPN VXLAN device     name ``bvr-<index>``, alias ``bgpvpn:ipvpn:<instance id>``
veth of a netns port    alias ``bgpvpn:port:<namespace>`` on the host side
FDB / neighbours        living on the devices above (or on a port enslaved to our bridge,
                        for the static entry of the port's MAC)
routes                  protocol 186 (``PROTO``) in a VRF table ``TABLE_BASE + index``
policy rules            priority ``RULE_PREF_LEAK`` .. ``RULE_PREF_VXLAN`` (and proto 186)
proxy NDP entries       protocol 186 (NDA_PROTOCOL), on any device
======================  ===============================================================

``index`` is ``InstanceConfig.index``, at most ``MAX_INDEX`` so the names fit IFNAMSIZ and the
tables stay in their range (100000 - 165535: far from main 254, local 255 and the small numbers
administrators use by hand).
"""

from __future__ import annotations

PROTO = 186  # iproute2 names it "bgp"; configurable where a host also runs another BGP daemon
TABLE_BASE = 100_000
MAX_INDEX = 65_535
RULE_PREF_LEAK = 1_860  # "iif <VRF ingress> to <leaked prefix> lookup <other VRF's table>"
RULE_PREF_PORT = 1_861  # "iif <port> lookup <VRF table>"
RULE_PREF_VXLAN = 1_862  # "iif <VRF VXLAN device> lookup <VRF table>"
RULE_PREFS = frozenset({RULE_PREF_LEAK, RULE_PREF_PORT, RULE_PREF_VXLAN})

EVPN_BRIDGE_PREFIX = "bvbr-"
EVPN_VXLAN_PREFIX = "bvx-"
IPVPN_VXLAN_PREFIX = "bvr-"
ALIAS_PREFIX = "bgpvpn:"
PORT_ALIAS_PREFIX = "bgpvpn:port:"
PEER_IFNAME = "eth0"  # the namespace side of a netns port's veth pair
VXLAN_OVERHEAD = {4: 50, 6: 70}


def check_index(index: int) -> int:
    if not 0 <= index <= MAX_INDEX:
        raise ValueError(f"instance index {index} is out of range 0..{MAX_INDEX}")
    return index


def vrf_table(index: int) -> int:
    return TABLE_BASE + check_index(index)


def index_of(name: str, prefix: str) -> int | None:
    """``bvbr-7`` with prefix ``bvbr-`` -> 7; None when ``name`` is not ours."""
    if not name.startswith(prefix):
        return None
    rest = name[len(prefix) :]
    return int(rest) if rest.isdigit() and str(int(rest)) == rest else None
