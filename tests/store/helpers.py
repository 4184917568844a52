"""Shared strategies and samples for the store tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from bgpvpn.vpn.model import (
    Encapsulation,
    InstanceSpec,
    InstanceType,
    PortAttachment,
    Readvertise,
)

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
texts = st.text(max_size=20)
text_tuples = st.lists(texts, max_size=4).map(tuple)
big_ints = st.integers(min_value=-(2**80), max_value=2**80)

instance_specs = st.builds(
    InstanceSpec,
    instance_id=texts,
    instance_type=st.sampled_from(InstanceType),
    import_rts=text_tuples,
    export_rts=text_tuples,
    rd=st.none() | texts,
    vni=st.none() | big_ints,
    encapsulation=st.sampled_from(Encapsulation),
    advertise_type5=st.booleans(),
    local_pref=st.none() | big_ints,
    description=texts,
)

attachments = st.builds(
    PortAttachment,
    instance_id=texts,
    instance_type=st.sampled_from(InstanceType),
    port=texts,
    mac=texts,
    ips=text_tuples,
    gateway_ip=st.none() | texts,
    import_rts=text_tuples,
    export_rts=text_tuples,
    local_pref=st.none() | big_ints,
    advertise_subnet=st.booleans(),
    readvertise=st.none() | st.builds(Readvertise, from_rts=text_tuples, to_rts=text_tuples),
    description=texts,
    extra=st.dictionaries(texts, texts, max_size=3),
)

json_values = st.recursive(
    st.none() | st.booleans() | big_ints | st.floats(allow_nan=False, allow_infinity=False) | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)
json_objects = st.dictionaries(texts, json_values, max_size=6)
leases = st.none() | st.floats(allow_nan=False, allow_infinity=False)


def blue(**kw: Any) -> InstanceSpec:
    args: dict[str, Any] = {
        "instance_id": "blue",
        "instance_type": InstanceType.EVPN,
        "import_rts": ("64512:77",),
        "export_rts": ("64512:77",),
    }
    args.update(kw)
    return InstanceSpec(**args)


def port(n: int, instance_id: str = "blue", **kw: Any) -> PortAttachment:
    args: dict[str, Any] = {
        "instance_id": instance_id,
        "instance_type": InstanceType.EVPN,
        "port": f"tap{n}",
        "mac": f"52:54:00:00:00:{n:02x}",
        "ips": (f"10.0.0.{n}/24",),
    }
    args.update(kw)
    return PortAttachment(**args)
