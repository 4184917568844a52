"""NLRI of each address family in wire form: split a run of NLRI into compact routes and join
them back, sans-IO and allocation-lean.

A route is held as a **key** (``bytes``: what identifies the destination in a RIB) and, for
families whose NLRI carries more than the key, a **data** part (``bytes``: label stack, ESI,
gateway...). ``join(key, data)`` gives back the exact NLRI octets. Keys never hold labels, so a
route re-advertised with another label replaces the old one.

Key layouts (the first octet of IP keys is the prefix length in bits, without labels or RD):
- ipv4/ipv6 unicast, rtc, flowspec: the NLRI as on the wire
- labeled unicast: len | prefix            data: label stack (3 octets a label)
- vpnv4/vpnv6: len | RD(8) | prefix         data: label stack
- evpn: route type | the RFC7432/RFC9136 key fields (RD, ESI, tag, MAC, IP...); data: the rest
  (type 1: label; type 2: ESI | label1 [| label2]; type 5: ESI | gateway | label)

Errors raise ``NlriError`` with the offset; the UPDATE decoder turns them into a session reset
(RFC7606 5.3).
"""

from __future__ import annotations

from collections.abc import Callable

from bgpvpn.wire.constants import AFI, SAFI

LEN_OCTET: tuple[bytes, ...] = tuple(bytes((n,)) for n in range(256))
_DATA_INTERN: dict[bytes, bytes] = {}
_DATA_INTERN_MAX = 1 << 16

Split = tuple[tuple[bytes, ...], tuple[bytes, ...] | None, tuple[int, ...] | None]


class NlriError(Exception):
    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"offset {offset}: {reason}")
        self.offset = offset
        self.reason = reason


# ---------------------------------------------------------------- plain prefixes (RFC4271 4.3)


def _prefix_key(buf: bytes, i: int, plen: int, j: int) -> bytes:
    """The key of a prefix, with bits past the prefix length cleared."""
    key = buf[i:j]
    if plen & 7 and key[-1] & (0xFF >> (plen & 7)):
        key = key[:-1] + LEN_OCTET[key[-1] & (0xFF << (8 - (plen & 7))) & 0xFF]
    return key


def split_prefixes(buf: bytes, i: int, end: int, max_bits: int, add_path: bool) -> Split:
    keys: list[bytes] = []
    append = keys.append
    if not add_path:
        while i < end:
            plen = buf[i]
            j = i + 1 + ((plen + 7) >> 3)
            if plen > max_bits or j > end:
                raise NlriError(i, _prefix_problem(plen, max_bits, j, end))
            if plen & 7 and buf[j - 1] & (0xFF >> (plen & 7)):
                append(_prefix_key(buf, i, plen, j))
            else:
                append(buf[i:j])
            i = j
        return tuple(keys), None, None
    ids: list[int] = []
    while i < end:
        if i + 5 > end:
            raise NlriError(i, "truncated path identifier and prefix")
        ids.append(int.from_bytes(buf[i : i + 4], "big"))
        i += 4
        plen = buf[i]
        j = i + 1 + ((plen + 7) >> 3)
        if plen > max_bits or j > end:
            raise NlriError(i, _prefix_problem(plen, max_bits, j, end))
        append(_prefix_key(buf, i, plen, j))
        i = j
    return tuple(keys), None, tuple(ids)


def _prefix_problem(plen: int, max_bits: int, j: int, end: int) -> str:
    if plen > max_bits:
        return f"prefix length {plen} exceeds {max_bits}"
    return f"prefix of length {plen} overruns the NLRI field by {j - end} octets"


def join_plain(key: bytes, data: bytes | None) -> bytes:
    return key


# ---------------------------------------------------- labeled (RFC8277) and VPN (RFC4364/4659)


def _split_labeled(
    buf: bytes, i: int, end: int, max_bits: int, add_path: bool, withdraw: bool, rd_len: int
) -> Split:
    keys: list[bytes] = []
    datas: list[bytes] = []
    ids: list[int] | None = [] if add_path else None
    lens = LEN_OCTET
    if len(_DATA_INTERN) > _DATA_INTERN_MAX:
        _DATA_INTERN.clear()
    intern = _DATA_INTERN.setdefault
    key_append = keys.append
    data_append = datas.append
    rd_bits = rd_len * 8
    start = i
    try:
        while i < end:
            if ids is not None:
                ids.append(int.from_bytes(buf[i : i + 4], "big"))
                i += 4
            plen = buf[i]
            j = i + 1 + ((plen + 7) >> 3)
            # label stack: one label on withdrawal (RFC8277 2.4), else up to bottom-of-stack
            if withdraw or buf[i + 3] & 1:
                k = i + 4
            else:
                k = i + 4
                while not buf[k + 2] & 1 and k + 3 < j:
                    k += 3
                k += 3
            bits = plen - ((k - i - 1) << 3) - rd_bits
            if j > end or bits < 0 or bits > max_bits:
                raise NlriError(i, _labeled_problem(plen, bits, max_bits, j, end))
            key_append(lens[bits] + buf[k:j])
            d = buf[i + 1 : k]
            data_append(intern(d, d))
            i = j
    except IndexError:
        raise NlriError(min(i, max(end - 1, start)), "NLRI truncated") from None
    return tuple(keys), tuple(datas), (tuple(ids) if ids is not None else None)


def _labeled_problem(plen: int, bits: int, max_bits: int, j: int, end: int) -> str:
    if j > end:
        return f"NLRI of length {plen} bits overruns the field by {j - end} octets"
    return f"prefix length {bits} (after labels and RD) is outside 0..{max_bits}"


def join_labeled(key: bytes, data: bytes | None, rd_len: int) -> bytes:
    labels = data or b"\x80\x00\x00"
    return LEN_OCTET[key[0] + len(labels) * 8 + rd_len * 8] + labels + key[1:]


# ------------------------------------------------------------------------ E-VPN (RFC7432, 9136)

_EVPN_FIXED_LEN = {1: (25,), 3: (17, 29), 4: (23, 35), 5: (34, 58)}
# type-2 route length and IP length pairs that fit (RFC7432 7.2: MAC length 48, one or two labels)
_EVPN2_VALID = frozenset(
    (33 + (iplen >> 3) + labels) << 8 | iplen for iplen in (0, 32, 128) for labels in (0, 3)
)
_T2 = b"\x02"


def split_evpn(buf: bytes, i: int, end: int, add_path: bool) -> Split:
    keys: list[bytes] = []
    datas: list[bytes] = []
    ids: list[int] | None = [] if add_path else None
    if len(_DATA_INTERN) > _DATA_INTERN_MAX:
        _DATA_INTERN.clear()
    intern = _DATA_INTERN.setdefault
    key_append = keys.append
    data_append = datas.append
    valid2 = _EVPN2_VALID
    t2 = _T2
    start = i
    try:
        while i < end:
            if ids is not None:
                ids.append(int.from_bytes(buf[i : i + 4], "big"))
                i += 4
            rtype = buf[i]
            ln = buf[i + 1]
            j = i + 2 + ln
            if rtype == 2:
                iplen = buf[i + 31]
                if j > end or (ln << 8 | iplen) not in valid2 or buf[i + 24] != 48:
                    raise NlriError(i, _evpn2_problem(buf, i, ln, j, end))
                ip_end = i + 32 + (iplen >> 3)
                key_append(t2 + buf[i + 2 : i + 10] + buf[i + 20 : ip_end])
                d = buf[i + 10 : i + 20] + buf[ip_end:j]
                data_append(intern(d, d))
            else:
                if j > end:
                    raise NlriError(i, f"E-VPN route of length {ln} overruns the NLRI field")
                _evpn_other(buf, i, j, rtype, ln, key_append, data_append, intern)
            i = j
    except IndexError:
        raise NlriError(min(i, max(end - 1, start)), "E-VPN route truncated") from None
    return tuple(keys), tuple(datas), (tuple(ids) if ids is not None else None)


def _evpn_other(
    buf: bytes,
    i: int,
    j: int,
    rtype: int,
    ln: int,
    key_append: Callable[[bytes], None],
    data_append: Callable[[bytes], None],
    intern: Callable[[bytes, bytes], bytes],
) -> None:
    """E-VPN routes other than type 2 (rarer: one per EVI or per prefix)."""
    fixed = _EVPN_FIXED_LEN.get(rtype)
    if fixed is not None and ln not in fixed:
        raise NlriError(i, f"E-VPN type-{rtype} route length {ln} is not in {fixed}")
    if rtype == 5:
        if buf[i + 24] > (32 if ln == 34 else 128):
            raise NlriError(i + 24, f"E-VPN type-5 prefix length {buf[i + 24]} too long")
        ip_end = i + 25 + (4 if ln == 34 else 16)
        key_append(buf[i : i + 1] + buf[i + 2 : i + 10] + buf[i + 20 : ip_end])
        d = buf[i + 10 : i + 20] + buf[ip_end:j]
        data_append(intern(d, d))
        return
    if rtype == 1:
        key_append(buf[i : i + 1] + buf[i + 2 : i + 24])
        d = buf[i + 24 : j]
        data_append(intern(d, d))
        return
    if rtype == 3 and buf[i + 14] not in (32, 128):
        raise NlriError(i + 14, "E-VPN type-3 originator IP length is not 32 or 128")
    if rtype == 4 and buf[i + 20] not in (32, 128):
        raise NlriError(i + 20, "E-VPN type-4 originator IP length is not 32 or 128")
    key_append(buf[i : i + 1] + buf[i + 2 : j])
    data_append(b"")


def _evpn2_problem(buf: bytes, i: int, ln: int, j: int, end: int) -> str:
    if j > end:
        return f"E-VPN route of length {ln} overruns the NLRI field"
    if ln < 33:
        return f"E-VPN type-2 route length {ln} is below the minimum 33"
    if buf[i + 24] != 48:
        return f"E-VPN type-2 MAC length {buf[i + 24]} is not 48"
    iplen = buf[i + 31]
    if iplen not in (0, 32, 128):
        return f"E-VPN type-2 IP length {iplen} is not 0, 32 or 128"
    return f"E-VPN type-2 route length {ln} does not fit its fields"


def join_evpn(key: bytes, data: bytes | None) -> bytes:
    rtype = key[0]
    if rtype in (2, 5) and data:
        body = key[1:9] + data[:10] + key[9:] + data[10:]
    elif rtype == 1 and data:
        body = key[1:] + data
    else:
        body = key[1:] + (data or b"")
    return LEN_OCTET[rtype] + LEN_OCTET[len(body)] + body


# ----------------------------------------------------------- RT membership (RFC4684) & FlowSpec


def split_rtc(buf: bytes, i: int, end: int, add_path: bool) -> Split:
    keys: list[bytes] = []
    ids: list[int] | None = [] if add_path else None
    while i < end:
        if ids is not None:
            if i + 5 > end:
                raise NlriError(i, "truncated path identifier")
            ids.append(int.from_bytes(buf[i : i + 4], "big"))
            i += 4
        plen = buf[i]
        if plen != 0 and not 32 <= plen <= 96:
            raise NlriError(i, f"RT membership prefix length {plen} is not 0 or 32..96")
        j = i + 1 + ((plen + 7) >> 3)
        if j > end:
            raise NlriError(i, "RT membership NLRI overruns the NLRI field")
        keys.append(buf[i:j])
        i = j
    return tuple(keys), None, (tuple(ids) if ids is not None else None)


def split_flowspec(buf: bytes, i: int, end: int, add_path: bool) -> Split:
    keys: list[bytes] = []
    ids: list[int] | None = [] if add_path else None
    while i < end:
        if ids is not None:
            if i + 5 > end:
                raise NlriError(i, "truncated path identifier")
            ids.append(int.from_bytes(buf[i : i + 4], "big"))
            i += 4
        first = buf[i]
        if first >= 0xF0:
            if i + 2 > end:
                raise NlriError(i, "truncated FlowSpec length")
            ln = ((first & 0x0F) << 8) | buf[i + 1]
            j = i + 2 + ln
        else:
            j = i + 1 + first
        if j > end:
            raise NlriError(i, "FlowSpec NLRI overruns the NLRI field")
        keys.append(buf[i:j])
        i = j
    return tuple(keys), None, (tuple(ids) if ids is not None else None)


# ------------------------------------------------------------------------------- dispatch

SplitFn = Callable[[bytes, int, int, bool, bool], Split]
JoinFn = Callable[[bytes, "bytes | None"], bytes]


def _v4(b: bytes, i: int, e: int, ap: bool, wd: bool) -> Split:
    return split_prefixes(b, i, e, 32, ap)


def _v6(b: bytes, i: int, e: int, ap: bool, wd: bool) -> Split:
    return split_prefixes(b, i, e, 128, ap)


def _lu4(b: bytes, i: int, e: int, ap: bool, wd: bool) -> Split:
    return _split_labeled(b, i, e, 32, ap, wd, 0)


def _lu6(b: bytes, i: int, e: int, ap: bool, wd: bool) -> Split:
    return _split_labeled(b, i, e, 128, ap, wd, 0)


def _vpn4(b: bytes, i: int, e: int, ap: bool, wd: bool) -> Split:
    return _split_labeled(b, i, e, 32, ap, wd, 8)


def _vpn6(b: bytes, i: int, e: int, ap: bool, wd: bool) -> Split:
    return _split_labeled(b, i, e, 128, ap, wd, 8)


def _evpn(b: bytes, i: int, e: int, ap: bool, wd: bool) -> Split:
    return split_evpn(b, i, e, ap)


def _rtc(b: bytes, i: int, e: int, ap: bool, wd: bool) -> Split:
    return split_rtc(b, i, e, ap)


def _fs(b: bytes, i: int, e: int, ap: bool, wd: bool) -> Split:
    return split_flowspec(b, i, e, ap)


def _join_lu(key: bytes, data: bytes | None) -> bytes:
    return join_labeled(key, data, 0)


def _join_vpn(key: bytes, data: bytes | None) -> bytes:
    return join_labeled(key, data, 8)


SPLITTERS: dict[tuple[int, int], SplitFn] = {
    (AFI.IPV4, SAFI.UNICAST): _v4,
    (AFI.IPV4, SAFI.MULTICAST): _v4,
    (AFI.IPV6, SAFI.UNICAST): _v6,
    (AFI.IPV6, SAFI.MULTICAST): _v6,
    (AFI.IPV4, SAFI.LABELED_UNICAST): _lu4,
    (AFI.IPV6, SAFI.LABELED_UNICAST): _lu6,
    (AFI.IPV4, SAFI.MPLS_VPN): _vpn4,
    (AFI.IPV6, SAFI.MPLS_VPN): _vpn6,
    (AFI.L2VPN, SAFI.EVPN): _evpn,
    (AFI.IPV4, SAFI.RTC): _rtc,
    (AFI.IPV4, SAFI.FLOWSPEC): _fs,
    (AFI.IPV6, SAFI.FLOWSPEC): _fs,
    (AFI.IPV4, SAFI.FLOWSPEC_VPN): _fs,
    (AFI.IPV6, SAFI.FLOWSPEC_VPN): _fs,
}

JOINERS: dict[tuple[int, int], JoinFn] = {
    (AFI.IPV4, SAFI.LABELED_UNICAST): _join_lu,
    (AFI.IPV6, SAFI.LABELED_UNICAST): _join_lu,
    (AFI.IPV4, SAFI.MPLS_VPN): _join_vpn,
    (AFI.IPV6, SAFI.MPLS_VPN): _join_vpn,
    (AFI.L2VPN, SAFI.EVPN): join_evpn,
}


def joiner(afi: int, safi: int) -> JoinFn:
    return JOINERS.get((afi, safi), join_plain)


def encode_nlri(
    afi: int,
    safi: int,
    keys: tuple[bytes, ...] | list[bytes],
    data: tuple[bytes, ...] | list[bytes] | None,
    path_ids: tuple[int, ...] | list[int] | None,
) -> bytes:
    """The NLRI octets of a run of routes (path identifiers first where given)."""
    join = JOINERS.get((afi, safi))
    if join is None and path_ids is None:
        return b"".join(keys)
    parts: list[bytes] = []
    for n, key in enumerate(keys):
        if path_ids is not None:
            parts.append(path_ids[n].to_bytes(4, "big"))
        parts.append(join(key, data[n] if data is not None else None) if join else key)
    return b"".join(parts)
