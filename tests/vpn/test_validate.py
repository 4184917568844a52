"""``validate.iface``: the quick dotted-quad parser gives what ``ipaddress`` gives (canonical
text, address, packed form, networks) and refuses what it refuses."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bgpvpn.vpn.model import VpnError
from bgpvpn.vpn.validate import _iface, iface


def _reference(text: str) -> tuple[object, ...] | None:
    try:
        i = ipaddress.ip_interface(text.strip())
    except ValueError:
        return None
    return (str(i), str(i.ip), i.ip.packed, i.network, ipaddress.ip_network(i.ip))


def _ours(text: str) -> tuple[object, ...] | None:
    got = _iface.__wrapped__(text)
    return None if got is None else (got.text, got.ip, got.packed, got.network, got.host)


_octet = st.one_of(
    st.integers(0, 300).map(str), st.sampled_from(["00", "01", "007", "", "a", "1e1", "٣"])
)
_length = st.one_of(
    st.integers(-1, 140).map(str),
    st.sampled_from(["", "024", "+8", " 8", "255.255.255.0", "0.0.0.255", "٢٤", "1a"]),
)


@given(st.lists(_octet, min_size=1, max_size=5), st.one_of(st.none(), _length), st.booleans())
def test_dotted_quads_parse_as_ipaddress_does(
    parts: list[str], length: str | None, pad: bool
) -> None:
    text = ".".join(parts) + ("" if length is None else "/" + length)
    if pad:
        text = f" {text} "
    assert _ours(text) == _reference(text)


@pytest.mark.parametrize(
    "text",
    ["2001:db8::1/64", "2001:DB8:0::1", "::ffff:192.0.2.1/128", "fe80::1%eth0/64", "::/0", "::1"],
)
def test_ipv6_as_ipaddress(text: str) -> None:
    assert _ours(text) == _reference(text)


def test_refusal_names_the_field() -> None:
    with pytest.raises(VpnError) as e:
        iface("198.51.100.300/24", "ips[2]")
    assert (e.value.field, e.value.status) == ("ips[2]", 400)
