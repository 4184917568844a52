"""Linux data-plane drivers (pyroute2 / netlink): E-VPN with bridges and VXLAN devices, IP VPN
with policy-routing tables and VXLAN. See docs/dataplane.md."""

from bgpvpn.dataplane.linux.evpn import LinuxEvpnDriver
from bgpvpn.dataplane.linux.ipvpn import LinuxIpvpnDriver

__all__ = ["LinuxEvpnDriver", "LinuxIpvpnDriver"]
