"""Protocol numbers of BGP-4 and its extensions, as enums.

Names follow the RFCs; each enum lists only registered values that bgpvpn knows. Unknown values
are kept as plain ints by the decoders, never rejected just for being unknown.
"""

from __future__ import annotations

from enum import IntEnum

MARKER = b"\xff" * 16
HEADER_LEN = 19
MAX_MESSAGE_LEN = 4096  # RFC4271 4.1
MAX_EXTENDED_MESSAGE_LEN = 65535  # RFC8654
BGP_VERSION = 4
AS_TRANS = 23456  # RFC6793


class MessageType(IntEnum):
    OPEN = 1
    UPDATE = 2
    NOTIFICATION = 3
    KEEPALIVE = 4
    ROUTE_REFRESH = 5


class AFI(IntEnum):
    IPV4 = 1
    IPV6 = 2
    L2VPN = 25


class SAFI(IntEnum):
    UNICAST = 1
    MULTICAST = 2
    LABELED_UNICAST = 4  # RFC8277
    EVPN = 70  # RFC7432
    MPLS_VPN = 128  # RFC4364
    RTC = 132  # RFC4684
    FLOWSPEC = 133  # RFC8955
    FLOWSPEC_VPN = 134


class AttrType(IntEnum):
    ORIGIN = 1
    AS_PATH = 2
    NEXT_HOP = 3
    MULTI_EXIT_DISC = 4
    LOCAL_PREF = 5
    ATOMIC_AGGREGATE = 6
    AGGREGATOR = 7
    COMMUNITIES = 8  # RFC1997
    ORIGINATOR_ID = 9  # RFC4456
    CLUSTER_LIST = 10  # RFC4456
    MP_REACH_NLRI = 14  # RFC4760
    MP_UNREACH_NLRI = 15  # RFC4760
    EXTENDED_COMMUNITIES = 16  # RFC4360
    AS4_PATH = 17  # RFC6793
    AS4_AGGREGATOR = 18  # RFC6793
    PMSI_TUNNEL = 22  # RFC6514
    TUNNEL_ENCAPSULATION = 23  # RFC9012
    AIGP = 26  # RFC7311
    LARGE_COMMUNITIES = 32  # RFC8092


class AttrFlag(IntEnum):
    OPTIONAL = 0x80
    TRANSITIVE = 0x40
    PARTIAL = 0x20
    EXTENDED_LENGTH = 0x10


class Origin(IntEnum):
    IGP = 0
    EGP = 1
    INCOMPLETE = 2


class AsPathSegmentType(IntEnum):
    AS_SET = 1
    AS_SEQUENCE = 2
    AS_CONFED_SEQUENCE = 3  # RFC5065
    AS_CONFED_SET = 4


class CapabilityCode(IntEnum):
    MULTIPROTOCOL = 1  # RFC4760
    ROUTE_REFRESH = 2  # RFC2918
    OUTBOUND_ROUTE_FILTERING = 3
    EXTENDED_NEXT_HOP = 5  # RFC8950
    EXTENDED_MESSAGE = 6  # RFC8654
    BGP_ROLE = 9  # RFC9234
    GRACEFUL_RESTART = 64  # RFC4724
    FOUR_OCTET_AS = 65  # RFC6793
    ADD_PATH = 69  # RFC7911
    ENHANCED_ROUTE_REFRESH = 70  # RFC7313
    LONG_LIVED_GRACEFUL_RESTART = 71  # RFC9494
    FQDN = 73  # draft-walton-bgp-hostname-capability
    ROUTE_REFRESH_OLD = 128  # pre-standard Cisco code, still sent by some speakers


class OptionalParameterType(IntEnum):
    CAPABILITIES = 2  # RFC5492
    EXTENDED_LENGTH = 255  # RFC9072


class ErrorCode(IntEnum):
    MESSAGE_HEADER = 1
    OPEN_MESSAGE = 2
    UPDATE_MESSAGE = 3
    HOLD_TIMER_EXPIRED = 4
    FSM = 5
    CEASE = 6
    ROUTE_REFRESH_MESSAGE = 7  # RFC7313


class HeaderError(IntEnum):
    CONNECTION_NOT_SYNCHRONIZED = 1
    BAD_MESSAGE_LENGTH = 2
    BAD_MESSAGE_TYPE = 3


class OpenError(IntEnum):
    UNSUPPORTED_VERSION = 1
    BAD_PEER_AS = 2
    BAD_BGP_IDENTIFIER = 3
    UNSUPPORTED_OPTIONAL_PARAMETER = 4
    UNACCEPTABLE_HOLD_TIME = 6
    UNSUPPORTED_CAPABILITY = 7  # RFC5492
    ROLE_MISMATCH = 11  # RFC9234


class UpdateError(IntEnum):
    MALFORMED_ATTRIBUTE_LIST = 1
    UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE = 2
    MISSING_WELL_KNOWN_ATTRIBUTE = 3
    ATTRIBUTE_FLAGS_ERROR = 4
    ATTRIBUTE_LENGTH_ERROR = 5
    INVALID_ORIGIN_ATTRIBUTE = 6
    INVALID_NEXT_HOP_ATTRIBUTE = 8
    OPTIONAL_ATTRIBUTE_ERROR = 9
    INVALID_NETWORK_FIELD = 10
    MALFORMED_AS_PATH = 11


class FsmError(IntEnum):
    UNSPECIFIED = 0  # RFC6608
    UNEXPECTED_MESSAGE_IN_OPENSENT = 1
    UNEXPECTED_MESSAGE_IN_OPENCONFIRM = 2
    UNEXPECTED_MESSAGE_IN_ESTABLISHED = 3


class CeaseSubcode(IntEnum):  # RFC4486
    MAXIMUM_PREFIXES_REACHED = 1
    ADMINISTRATIVE_SHUTDOWN = 2
    PEER_DECONFIGURED = 3
    ADMINISTRATIVE_RESET = 4
    CONNECTION_REJECTED = 5
    OTHER_CONFIGURATION_CHANGE = 6
    CONNECTION_COLLISION_RESOLUTION = 7
    OUT_OF_RESOURCES = 8
    HARD_RESET = 9  # RFC8538
    BFD_DOWN = 10  # RFC9384


class RouteRefreshError(IntEnum):
    INVALID_MESSAGE_LENGTH = 1  # RFC7313


class RouteRefreshSubtype(IntEnum):
    NORMAL = 0  # RFC2918
    BORR = 1  # RFC7313 beginning of route refresh
    EORR = 2  # RFC7313 end of route refresh


class EvpnRouteType(IntEnum):
    ETHERNET_AUTO_DISCOVERY = 1
    MAC_IP_ADVERTISEMENT = 2
    INCLUSIVE_MULTICAST_ETHERNET_TAG = 3
    ETHERNET_SEGMENT = 4
    IP_PREFIX = 5  # RFC9136


class PmsiTunnelType(IntEnum):  # RFC6514 5, RFC7385
    NO_TUNNEL = 0
    RSVP_TE_P2MP = 1
    MLDP_P2MP = 2
    PIM_SSM = 3
    PIM_SM = 4
    BIDIR_PIM = 5
    INGRESS_REPLICATION = 6
    MLDP_MP2MP = 7


class TunnelType(IntEnum):  # RFC9012 / IANA BGP Tunnel Encapsulation Attribute Tunnel Types
    L2TPV3 = 1
    GRE = 2
    TRANSMIT_TUNNEL_ENDPOINT = 3
    IPSEC_TUNNEL_MODE = 4
    IP_IN_IP = 7
    VXLAN = 8
    NVGRE = 9
    MPLS = 10
    MPLS_IN_GRE = 11
    VXLAN_GPE = 12
    MPLS_IN_UDP = 13
    GENEVE = 19
