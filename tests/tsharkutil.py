"""Decode BGP messages with tshark's BGP dissector, an implementation independent of bgpvpn.

``dissect(messages, directory)`` writes the messages into a classic pcap file (one TCP segment
per message, 192.0.2.1:179 -> 192.0.2.2:40000, sequence numbers advancing), runs
``tshark -T pdml`` once over it and returns, per message, the dissection tree (``Node``) of that
message. PDML is used because it keeps every field in tree order with both its displayed value
(``show``) and its raw octets (``value``), so repeated fields (NLRI, communities, capabilities)
stay grouped under their parent.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TSHARK = shutil.which("tshark") or ("/usr/bin/tshark" if Path("/usr/bin/tshark").exists() else "")

SRC_IP = bytes((192, 0, 2, 1))
DST_IP = bytes((192, 0, 2, 2))
FRAME_HEADER_LEN = 14 + 20 + 20  # Ethernet, IPv4, TCP (no options)
SRC_PORT = 179
DST_PORT = 40000


def available() -> bool:
    return bool(TSHARK)


# ------------------------------------------------------------------------------- pcap


def _ipv4_checksum(header: bytes) -> int:
    total = sum(struct.unpack("!10H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _frame(payload: bytes, seq: int, ack: int, ident: int) -> bytes:
    tcp = struct.pack(
        "!HHIIBBHHH",
        SRC_PORT,
        DST_PORT,
        seq,
        ack,
        5 << 4,  # data offset: 5 words, no options
        0x18,  # PSH, ACK
        65535,
        0,  # checksum (not checked)
        0,
    )
    total = 20 + len(tcp) + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ident, 0x4000, 64, 6, 0, SRC_IP, DST_IP)
    ip = ip[:10] + struct.pack("!H", _ipv4_checksum(ip)) + ip[12:]
    eth = bytes.fromhex("020000000002020000000001") + b"\x08\x00"
    return eth + ip + tcp + payload


def write_pcap(path: Path, payloads: Sequence[bytes]) -> None:
    """A classic pcap (microsecond, Ethernet link type) with one TCP segment per payload."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    seq = 1000
    ack = 5000
    for n, payload in enumerate(payloads):
        frame = _frame(payload, seq, ack, n + 1)
        out += struct.pack("<IIII", 1700000000 + n, 0, len(frame), len(frame))
        out += frame
        seq = (seq + len(payload)) & 0xFFFFFFFF
    path.write_bytes(bytes(out))


# ------------------------------------------------------------------------------- tree


@dataclass
class Node:
    """One PDML field: ``name`` (the display filter name, may be empty), ``show`` (the value as
    tshark displays it), ``showname`` (the whole line), ``raw`` (the field's octets, hex),
    ``children``."""

    name: str
    show: str = ""
    showname: str = ""
    raw: str = ""
    pos: int = 0
    size: int = 0
    children: list[Node] = field(default_factory=list)

    def walk(self) -> Iterator[Node]:
        yield self
        for c in self.children:
            yield from c.walk()

    def all(self, name: str) -> list[Node]:
        """Every field of that name under this one (itself included), in tree order."""
        return [n for n in self.walk() if n.name == name]

    def values(self, name: str) -> list[str]:
        return [n.show for n in self.all(name)]

    def first(self, name: str) -> Node:
        found = self.all(name)
        if not found:
            raise KeyError(f"no field {name!r} in the dissection of {self.showname or self.name}")
        return found[0]

    def value(self, name: str) -> str:
        return self.first(name).show

    def has(self, name: str) -> bool:
        return any(n.name == name for n in self.walk())

    def int(self, name: str) -> int:
        return int(self.value(name), 0)

    def shownames(self) -> list[str]:
        return [n.showname for n in self.walk() if n.showname]

    def names(self) -> set[str]:
        return {n.name for n in self.walk()}


def _node(elem: ET.Element) -> Node:
    return Node(
        elem.get("name", ""),
        elem.get("show", ""),
        elem.get("showname", ""),
        elem.get("value", ""),
        int(elem.get("pos", "0") or 0),
        int(elem.get("size", "0") or 0),
        [_node(c) for c in elem if c.tag in ("field", "proto")],
    )


@dataclass
class Packet:
    """One frame: ``bgp`` is the tree of the (one) BGP message in it, ``problems`` the
    malformed-packet markers and expert infos of severity warning or error in the frame."""

    bgp: Node
    frame: Node
    problems: list[str]
    bgp_count: int = 1
    payload: bytes = b""  # the BGP message as written

    def octets(self, node: Node) -> bytes:
        """The octets of the message a field covers (from its PDML position and size)."""
        start = node.pos - FRAME_HEADER_LEN
        if start < 0 or node.size <= 0:
            raise ValueError(f"field {node.name!r} has no position in the BGP message")
        return self.payload[start : start + node.size]


# PDML gives expert severities as numbers (epan/proto.h PI_WARN, PI_ERROR); Note and Chat are
# informational (e.g. "IP Address: NOT INCLUDED" on an E-VPN MAC-only route)
_SEVERITY_NAMES = {0x00600000: "Warning", 0x00800000: "Error"}


def _problems(frame: Node) -> list[str]:
    out: list[str] = []
    for n in frame.walk():
        if n.name == "_ws.malformed" or n.name.startswith("_ws.malformed."):
            out.append(n.showname or n.name)
        elif n.name == "_ws.expert":
            severity = next((c.show for c in n.walk() if c.name == "_ws.expert.severity"), "0")
            text = next((c.show for c in n.walk() if c.name == "_ws.expert.message"), n.showname)
            name = _SEVERITY_NAMES.get(int(severity, 0))
            if name is not None:
                out.append(f"{name}: {text}")
    return out


def run_tshark(pcap: Path, prefs: Sequence[str] = ()) -> list[Packet]:
    cmd = [
        TSHARK,
        "-n",
        "-r",
        str(pcap),
        "-T",
        "pdml",
        "-o",
        "tcp.check_checksum:FALSE",
        "-o",
        "tcp.analyze_sequence_numbers:TRUE",
        "-d",
        f"tcp.port=={SRC_PORT},bgp",
    ]
    for p in prefs:
        cmd += ["-o", p]
    proc = subprocess.run(cmd, capture_output=True, check=False, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"tshark failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    root = ET.fromstring(proc.stdout)
    packets: list[Packet] = []
    for pkt in root.iter("packet"):
        frame = Node("packet", children=[_node(p) for p in pkt if p.tag == "proto"])
        bgps = [p for p in frame.children if p.name == "bgp"]
        bgp = bgps[0] if bgps else Node("bgp")
        packets.append(Packet(bgp, frame, _problems(frame), len(bgps)))
    return packets


def dissect(
    messages: Sequence[bytes], directory: Path, prefs: Sequence[str] = (), name: str = "bgp.pcap"
) -> list[Packet]:
    """Dissect each message (one frame each); the result is in the same order."""
    path = directory / name
    write_pcap(path, messages)
    packets = run_tshark(path, prefs)
    if len(packets) != len(messages):
        raise RuntimeError(f"tshark read {len(packets)} frames, {len(messages)} were written")
    for packet, message in zip(packets, messages, strict=True):
        packet.payload = bytes(message)
    return packets
