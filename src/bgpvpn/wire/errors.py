"""Error verdicts of the codec (RFC4271 section 6, RFC7606).

Decoding an UPDATE never raises: problems are collected as ``UpdateProblem`` values, each with
the action RFC7606 prescribes. Other messages (OPEN, NOTIFICATION, ROUTE-REFRESH, a bad header)
raise ``MessageError``, which carries the NOTIFICATION to send. Both name the offset and the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from bgpvpn.wire.constants import ErrorCode


class ErrorAction(IntEnum):
    """What the receiver must do, weakest first (RFC7606 section 2)."""

    NONE = 0
    ATTRIBUTE_DISCARD = 1
    TREAT_AS_WITHDRAW = 2
    SESSION_RESET = 3


@dataclass(frozen=True, slots=True)
class UpdateProblem:
    """One problem found in an UPDATE, with the RFC7606 action and the NOTIFICATION it implies
    when the action is a session reset."""

    action: ErrorAction
    code: int
    subcode: int
    offset: int  # offset in the message (header included) where the problem was found
    field: str
    reason: str
    data: bytes = b""

    def __str__(self) -> str:
        return (
            f"offset {self.offset}: {self.field}: {self.reason} "
            f"({self.action.name.lower().replace('_', '-')})"
        )


class MessageError(Exception):
    """A message that cannot be decoded; carries the NOTIFICATION code/subcode/data to send."""

    def __init__(
        self,
        code: ErrorCode | int,
        subcode: int,
        offset: int,
        field: str,
        reason: str,
        data: bytes = b"",
    ) -> None:
        super().__init__(f"offset {offset}: {field}: {reason}")
        self.code = int(code)
        self.subcode = int(subcode)
        self.offset = offset
        self.field = field
        self.reason = reason
        self.data = data


class TextFormError(ValueError):
    """A text form (prefix, RD, RT, MAC, community...) that cannot be parsed."""

    def __init__(self, field: str, value: str, reason: str) -> None:
        super().__init__(f"{field}: {value!r}: {reason}")
        self.field = field
        self.value = value
        self.reason = reason
