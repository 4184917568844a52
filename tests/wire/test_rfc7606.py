"""RFC7606 error handling: every malformed UPDATE yields the prescribed verdict, never an
exception; and RFC4271 6.1/6.2 header and OPEN errors raise MessageError with the NOTIFICATION."""

from __future__ import annotations

import struct

import pytest
from builders import (
    AS_PATH_4,
    BASE,
    NEXT_HOP,
    NLRI_24,
    ORIGIN_IGP,
    attr,
    message,
    mp_reach,
    mp_unreach,
    update,
)

from bgpvpn.wire import ErrorAction, MessageError, WireContext, decode_message, encode_message
from bgpvpn.wire.constants import ErrorCode, HeaderError, OpenError, UpdateError
from bgpvpn.wire.family import EVPN, IPV4_UNICAST, VPNV4
from bgpvpn.wire.update import UpdateMessage

TAW = ErrorAction.TREAT_AS_WITHDRAW
DISCARD = ErrorAction.ATTRIBUTE_DISCARD
RESET = ErrorAction.SESSION_RESET


def decode(data: bytes, ctx: WireContext | None = None) -> UpdateMessage:
    msg = decode_message(data, ctx or WireContext())
    assert isinstance(msg, UpdateMessage)
    return msg


def one_problem(msg: UpdateMessage) -> tuple[ErrorAction, int, str]:
    assert len(msg.problems) == 1, msg.problems
    p = msg.problems[0]
    return p.action, p.subcode, p.field


def test_valid_update_has_no_problem_and_round_trips() -> None:
    data = update(attrs=BASE, nlri=NLRI_24)
    msg = decode(data)
    assert msg.problems == ()
    assert msg.action == ErrorAction.NONE
    assert msg.announced[0].keys == (NLRI_24,)
    assert encode_message(msg) == data


@pytest.mark.parametrize(
    ("bad_attr", "expected"),
    [
        (attr(0x40, 1, b"\x03"), (TAW, UpdateError.INVALID_ORIGIN_ATTRIBUTE, "ORIGIN")),
        (attr(0x40, 1, b"\x00\x00"), (TAW, UpdateError.ATTRIBUTE_LENGTH_ERROR, "ORIGIN")),
        (attr(0xC0, 1, b"\x00"), (TAW, UpdateError.ATTRIBUTE_FLAGS_ERROR, "ORIGIN")),
        (
            attr(0x40, 3, b"\xc0\x00\x02\x01\x05"),
            (TAW, UpdateError.ATTRIBUTE_LENGTH_ERROR, "NEXT_HOP"),
        ),
        (
            attr(0x80, 4, b"\x00\x00\x01"),
            (TAW, UpdateError.ATTRIBUTE_LENGTH_ERROR, "MULTI_EXIT_DISC"),
        ),
        (attr(0x40, 5, b"\x00\x00\x01"), (TAW, UpdateError.ATTRIBUTE_LENGTH_ERROR, "LOCAL_PREF")),
        (attr(0x40, 6, b"\x01"), (DISCARD, UpdateError.ATTRIBUTE_LENGTH_ERROR, "ATOMIC_AGGREGATE")),
        (attr(0xC0, 7, b"\x00" * 7), (DISCARD, UpdateError.ATTRIBUTE_LENGTH_ERROR, "AGGREGATOR")),
        (attr(0xC0, 8, b"\x00" * 3), (TAW, UpdateError.OPTIONAL_ATTRIBUTE_ERROR, "COMMUNITIES")),
        (attr(0xC0, 8, b""), (TAW, UpdateError.OPTIONAL_ATTRIBUTE_ERROR, "COMMUNITIES")),
        (attr(0x80, 9, b"\x01\x02"), (TAW, UpdateError.ATTRIBUTE_LENGTH_ERROR, "ORIGINATOR_ID")),
        (
            attr(0x80, 10, b"\x01\x02\x03"),
            (TAW, UpdateError.ATTRIBUTE_LENGTH_ERROR, "CLUSTER_LIST"),
        ),
        (
            attr(0xC0, 16, b"\x00" * 7),
            (TAW, UpdateError.OPTIONAL_ATTRIBUTE_ERROR, "EXTENDED_COMMUNITIES"),
        ),
        (
            attr(0xC0, 32, b"\x00" * 11),
            (TAW, UpdateError.OPTIONAL_ATTRIBUTE_ERROR, "LARGE_COMMUNITIES"),
        ),
        (attr(0xC0, 22, b"\x00\x06"), (TAW, UpdateError.OPTIONAL_ATTRIBUTE_ERROR, "PMSI_TUNNEL")),
        (
            attr(0x80, 26, b"\x01\x00\x05\x00\x00"),
            (DISCARD, UpdateError.OPTIONAL_ATTRIBUTE_ERROR, "AIGP"),
        ),
        (
            attr(0x40, 99, b"\x00"),
            (RESET, UpdateError.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE, "attribute 99"),
        ),
    ],
)
def test_malformed_attribute_verdicts(
    bad_attr: bytes, expected: tuple[ErrorAction, int, str]
) -> None:
    base = {1: AS_PATH_4 + NEXT_HOP, 3: ORIGIN_IGP + AS_PATH_4}.get(bad_attr[1], BASE)
    data = update(attrs=base + bad_attr, nlri=NLRI_24)
    msg = decode(data)
    action, subcode, field = one_problem(msg)
    assert (action, subcode, field) == expected
    problem = msg.problems[0]
    assert problem.code == ErrorCode.UPDATE_MESSAGE
    # the problem points at the attribute's header inside the message
    assert data[problem.offset : problem.offset + len(bad_attr)] == bad_attr
    # the routes are still delivered with the verdict, never silently dropped
    assert msg.announced[0].keys == (NLRI_24,)


def test_unrecognized_well_known_attribute_notification_data_is_the_attribute() -> None:
    bad = attr(0x40, 99, b"\x01\x02")
    msg = decode(update(attrs=BASE + bad, nlri=NLRI_24))
    reset = msg.reset_problem
    assert reset is not None
    assert (reset.code, reset.subcode, reset.data) == (3, 2, bad)


def test_discarded_attribute_is_absent_and_the_rest_is_kept() -> None:
    msg = decode(
        update(
            attrs=BASE + attr(0x40, 6, b"\x01") + attr(0x80, 4, b"\x00\x00\x00\x07"), nlri=NLRI_24
        )
    )
    assert msg.action == DISCARD
    assert msg.attributes is not None
    assert not msg.attributes.atomic_aggregate
    assert msg.attributes.med == 7


def test_local_pref_from_external_peer_is_discarded() -> None:
    data = update(attrs=BASE + attr(0x40, 5, b"\x00\x00\x00\x64"), nlri=NLRI_24)
    ebgp = decode(data, WireContext(ibgp=False))
    assert one_problem(ebgp)[0] == DISCARD
    assert ebgp.attributes is not None and ebgp.attributes.local_pref is None
    ibgp = decode(data, WireContext(ibgp=True))
    assert ibgp.problems == () and ibgp.attributes is not None
    assert ibgp.attributes.local_pref == 100


def test_duplicate_attribute_keeps_the_first() -> None:
    med1 = attr(0x80, 4, b"\x00\x00\x00\x01")
    med2 = attr(0x80, 4, b"\x00\x00\x00\x02")
    msg = decode(update(attrs=BASE + med1 + med2, nlri=NLRI_24))
    assert one_problem(msg) == (DISCARD, UpdateError.MALFORMED_ATTRIBUTE_LIST, "MULTI_EXIT_DISC")
    assert msg.attributes is not None and msg.attributes.med == 1


def test_duplicate_mp_reach_is_a_session_reset() -> None:
    reach = mp_reach(2, 1, b"\x20\x01\x0d\xb8" + bytes(12), bytes((32, 0x20, 0x01, 0x0D, 0xB8)))
    msg = decode(update(attrs=ORIGIN_IGP + AS_PATH_4 + reach + reach))
    assert msg.action == RESET
    reset = msg.reset_problem
    assert reset is not None and reset.subcode == UpdateError.MALFORMED_ATTRIBUTE_LIST


def test_attribute_overrunning_the_block_is_treat_as_withdraw() -> None:
    broken = b"\x80\x04\x09\x00\x00"  # MED claiming 9 octets, 2 present
    msg = decode(update(attrs=BASE + broken, nlri=NLRI_24))
    assert one_problem(msg)[0] == TAW
    assert msg.announced[0].keys == (NLRI_24,)


def test_truncated_attribute_header_is_treat_as_withdraw() -> None:
    msg = decode(update(attrs=BASE + b"\x80\x04", nlri=NLRI_24))
    assert one_problem(msg) == (TAW, UpdateError.MALFORMED_ATTRIBUTE_LIST, "attributes")


def test_withdrawn_length_overrun_is_a_session_reset() -> None:
    data = message(2, struct.pack("!H", 200) + b"\x18\xcb\x00\x71")
    msg = decode(data)
    assert one_problem(msg) == (
        RESET,
        UpdateError.MALFORMED_ATTRIBUTE_LIST,
        "withdrawn routes length",
    )


def test_total_attribute_length_overrun_is_a_session_reset() -> None:
    data = message(2, b"\x00\x00" + struct.pack("!H", 300) + BASE)
    assert one_problem(decode(data))[0] == RESET


def test_bad_prefix_length_in_nlri_is_a_session_reset() -> None:
    msg = decode(update(attrs=BASE, nlri=bytes((33, 1, 2, 3, 4, 5))))
    action, subcode, field = one_problem(msg)
    assert (action, subcode, field) == (RESET, UpdateError.INVALID_NETWORK_FIELD, "NLRI")


def test_missing_mandatory_attributes_are_treat_as_withdraw() -> None:
    msg = decode(update(attrs=ORIGIN_IGP + NEXT_HOP, nlri=NLRI_24))
    assert one_problem(msg) == (TAW, UpdateError.MISSING_WELL_KNOWN_ATTRIBUTE, "AS_PATH")
    assert msg.problems[0].data == b"\x02"
    msg = decode(update(attrs=ORIGIN_IGP + AS_PATH_4, nlri=NLRI_24))
    assert one_problem(msg) == (TAW, UpdateError.MISSING_WELL_KNOWN_ATTRIBUTE, "NEXT_HOP")


def test_mp_only_update_needs_no_next_hop_attribute() -> None:
    reach = mp_reach(2, 1, b"\x20\x01\x0d\xb8" + bytes(12), bytes((32, 0x20, 0x01, 0x0D, 0xB8)))
    msg = decode(update(attrs=ORIGIN_IGP + AS_PATH_4 + reach))
    assert msg.problems == ()


def test_withdraw_only_update_needs_no_attributes() -> None:
    msg = decode(update(withdrawn=NLRI_24))
    assert msg.problems == () and msg.withdrawn[0].keys == (NLRI_24,)


def test_mp_reach_next_hop_length_inconsistent_is_a_session_reset() -> None:
    nlri = bytes((24 + 64 + 24,)) + b"\x00\x06\x41" + bytes(8) + b"\xcb\x00\x71"
    msg = decode(update(attrs=ORIGIN_IGP + AS_PATH_4 + mp_reach(1, 128, b"\xc0\x00\x02\x01", nlri)))
    action, subcode, field = one_problem(msg)
    assert (action, field) == (RESET, "MP_REACH_NLRI")
    assert subcode == UpdateError.OPTIONAL_ATTRIBUTE_ERROR


def test_malformed_evpn_nlri_is_a_session_reset() -> None:
    body = bytes(8) + bytes(10) + bytes(4) + bytes((47,)) + bytes(6) + b"\x00" + b"\x00\x00\x64"
    nlri = bytes((2, len(body))) + body
    msg = decode(update(attrs=ORIGIN_IGP + AS_PATH_4 + mp_reach(25, 70, b"\xc0\x00\x02\x01", nlri)))
    assert msg.action == RESET
    assert msg.reset_problem is not None and "MAC length 47" in msg.reset_problem.reason


def test_malformed_as4_path_is_discarded_and_as_path_used() -> None:
    as_path_2 = attr(0x40, 2, b"\x02\x01" + struct.pack("!H", 65001))
    bad_as4 = attr(0xC0, 17, b"\x02\x05\x00")
    msg = decode(
        update(attrs=ORIGIN_IGP + as_path_2 + NEXT_HOP + bad_as4, nlri=NLRI_24),
        WireContext(as4=False),
    )
    assert one_problem(msg)[:1] == (DISCARD,)
    assert msg.attributes is not None and str(msg.attributes.as_path) == "65001"


def test_as4_path_merge_rfc6793() -> None:
    as_path_2 = attr(0x40, 2, b"\x02\x03" + struct.pack("!HHH", 65001, 23456, 23456))
    as4 = attr(0xC0, 17, b"\x02\x02" + struct.pack("!II", 4200000001, 4200000002))
    data = update(attrs=ORIGIN_IGP + as_path_2 + NEXT_HOP + as4, nlri=NLRI_24)
    msg = decode(data, WireContext(as4=False))
    assert msg.problems == ()
    assert msg.attributes is not None
    assert str(msg.attributes.as_path) == "65001 4200000001 4200000002"
    assert encode_message(msg, WireContext(as4=False)) == data


def test_as_path_width_follows_the_negotiated_capability() -> None:
    # the same octets mean two 2-octet ASes or one 4-octet AS: the context decides, no guessing
    as_path = attr(0x40, 2, b"\x02\x02" + struct.pack("!HH", 1, 2))
    data = update(attrs=ORIGIN_IGP + as_path + NEXT_HOP, nlri=NLRI_24)
    two = decode(data, WireContext(as4=False))
    assert two.attributes is not None and str(two.attributes.as_path) == "1 2"
    four = decode(data, WireContext(as4=True))
    assert four.action == TAW  # a segment of 2 four-octet ASes needs 8 octets


def test_end_of_rib_markers() -> None:
    assert decode(update()).end_of_rib == IPV4_UNICAST
    assert decode(update(attrs=mp_unreach(1, 128, b""))).end_of_rib == VPNV4
    assert decode(update(attrs=mp_unreach(25, 70, b""))).end_of_rib == EVPN
    assert decode(update(attrs=BASE, nlri=NLRI_24)).end_of_rib is None


@pytest.mark.parametrize(
    ("data", "code", "subcode", "field"),
    [
        (
            b"\xfe" + b"\xff" * 15 + b"\x00\x13\x04",
            1,
            HeaderError.CONNECTION_NOT_SYNCHRONIZED,
            "marker",
        ),
        (message(4, b"\x00"), 1, HeaderError.BAD_MESSAGE_LENGTH, "length"),
        (message(9, b""), 1, HeaderError.BAD_MESSAGE_TYPE, "type"),
        (message(3, b"\x06"), 1, HeaderError.BAD_MESSAGE_LENGTH, "length"),
        (
            message(1, b"\x03\xfd\xe8\x00\xb4\xc0\x00\x02\x01\x00"),
            2,
            OpenError.UNSUPPORTED_VERSION,
            "version",
        ),
        (
            message(1, b"\x04\xfd\xe8\x00\xb4\xc0\x00\x02\x01\x04\x02\x05\x01\x04"),
            2,
            0,
            "optional parameter",
        ),
        (message(5, b"\x00\x01\x01\x01\x00"), 7, 1, "length"),
    ],
)
def test_message_errors_carry_the_notification(
    data: bytes, code: int, subcode: int, field: str
) -> None:
    with pytest.raises(MessageError) as info:
        decode_message(data)
    assert (info.value.code, info.value.subcode, info.value.field) == (code, subcode, field)


def test_unsupported_version_notification_names_version_4() -> None:
    with pytest.raises(MessageError) as info:
        decode_message(message(1, b"\x03\xfd\xe8\x00\xb4\xc0\x00\x02\x01\x00"))
    assert info.value.data == b"\x00\x04"
    assert info.value.code == ErrorCode.OPEN_MESSAGE
