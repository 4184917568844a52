"""Address families (AFI/SAFI pairs) and their user-facing names."""

from __future__ import annotations

from dataclasses import dataclass

from bgpvpn.wire.constants import AFI, SAFI
from bgpvpn.wire.errors import TextFormError


@dataclass(frozen=True, slots=True, order=True)
class Family:
    afi: int
    safi: int

    def __hash__(self) -> int:  # a dict key everywhere: no tuple made per hash
        return (self.afi << 8) | self.safi

    @property
    def name(self) -> str:
        return _NAMES.get(self, f"afi{self.afi}-safi{self.safi}")

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def parse(text: str) -> Family:
        """A family from its name ("vpnv4") or an alias ("l3vpn-ipv4-unicast", "ipv4-vpn")."""
        fam = _BY_NAME.get(text.strip().lower())
        if fam is None:
            if text.startswith("afi") and "-safi" in text:
                try:
                    afi, safi = text[3:].split("-safi")
                    return Family(int(afi), int(safi))
                except ValueError:
                    pass
            raise TextFormError(
                "family",
                text,
                f"unknown address family; known: {', '.join(sorted(_NAMES.values()))}",
            )
        return fam


IPV4_UNICAST = Family(AFI.IPV4, SAFI.UNICAST)
IPV6_UNICAST = Family(AFI.IPV6, SAFI.UNICAST)
IPV4_MULTICAST = Family(AFI.IPV4, SAFI.MULTICAST)
IPV6_MULTICAST = Family(AFI.IPV6, SAFI.MULTICAST)
IPV4_LU = Family(AFI.IPV4, SAFI.LABELED_UNICAST)
IPV6_LU = Family(AFI.IPV6, SAFI.LABELED_UNICAST)
VPNV4 = Family(AFI.IPV4, SAFI.MPLS_VPN)
VPNV6 = Family(AFI.IPV6, SAFI.MPLS_VPN)
EVPN = Family(AFI.L2VPN, SAFI.EVPN)
RTC = Family(AFI.IPV4, SAFI.RTC)
IPV4_FLOWSPEC = Family(AFI.IPV4, SAFI.FLOWSPEC)
IPV6_FLOWSPEC = Family(AFI.IPV6, SAFI.FLOWSPEC)
VPNV4_FLOWSPEC = Family(AFI.IPV4, SAFI.FLOWSPEC_VPN)
VPNV6_FLOWSPEC = Family(AFI.IPV6, SAFI.FLOWSPEC_VPN)

_NAMES: dict[Family, str] = {
    IPV4_UNICAST: "ipv4",
    IPV6_UNICAST: "ipv6",
    IPV4_MULTICAST: "ipv4-multicast",
    IPV6_MULTICAST: "ipv6-multicast",
    IPV4_LU: "ipv4-lu",
    IPV6_LU: "ipv6-lu",
    VPNV4: "vpnv4",
    VPNV6: "vpnv6",
    EVPN: "evpn",
    RTC: "rtc",
    IPV4_FLOWSPEC: "ipv4-flowspec",
    IPV6_FLOWSPEC: "ipv6-flowspec",
    VPNV4_FLOWSPEC: "vpnv4-flowspec",
    VPNV6_FLOWSPEC: "vpnv6-flowspec",
}
_ALIASES: dict[str, Family] = {
    "ipv4-unicast": IPV4_UNICAST,
    "ipv6-unicast": IPV6_UNICAST,
    "ipv4-labeled-unicast": IPV4_LU,
    "ipv4-labelled-unicast": IPV4_LU,
    "ipv6-labeled-unicast": IPV6_LU,
    "ipv6-labelled-unicast": IPV6_LU,
    "ipv4-mpls": IPV4_LU,
    "ipv6-mpls": IPV6_LU,
    "l3vpn-ipv4-unicast": VPNV4,
    "l3vpn-ipv6-unicast": VPNV6,
    "ipv4-vpn": VPNV4,
    "ipv6-vpn": VPNV6,
    "ipv4-mpls-vpn": VPNV4,
    "ipv6-mpls-vpn": VPNV6,
    "l2vpn-evpn": EVPN,
    "ipv4-rtc": RTC,
    "route-target": RTC,
}
_BY_NAME: dict[str, Family] = {**{v: k for k, v in _NAMES.items()}, **_ALIASES}
