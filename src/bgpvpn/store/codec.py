"""The intent dataclasses as JSON objects, both ways, tolerant of other versions' fields.

``to_json(obj)`` writes every field of a dataclass (enums as their value, tuples as lists,
nested dataclasses as objects). ``from_json(cls, data)`` builds it back from the field types:
a key the class no longer (or does not yet) know is left out and reported in
``Decoded.unknown`` (the caller warns), a missing key takes the field's default, and a value of
the wrong type raises ``CodecError`` naming the field. Only the types the intent model uses are
handled: ``str``, ``int``, ``float``, ``bool``, ``None``, ``X | None``, ``tuple[X, ...]``,
``dict[str, X]``, ``StrEnum``/``IntEnum`` subclasses and nested dataclasses.

Shared by every store backend; no I/O here.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson

T = TypeVar("T")


class CodecError(ValueError):
    """A stored JSON object that cannot be the dataclass: ``field`` is a dotted path."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Decoded(Generic[T]):
    value: T
    unknown: tuple[str, ...]  # dotted paths of keys that were ignored


# ---------------------------------------------------------------- encoding


def to_json_value(obj: Any) -> Any:
    """A dataclass (or any value inside one) as plain JSON data (tuples stay tuples: ``json``
    writes them as lists; ``StrEnum``/``IntEnum`` members stay members: ``json`` writes them as
    their value)."""
    if isinstance(obj, (str, int, float)) or obj is None:  # bool is an int
        return obj
    plan = _ENCODE_PLANS.get(type(obj))
    if plan is None:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            plan = _encode_plan(type(obj))
        else:
            return _to_json_other(obj)
    return {
        name: to_json_value(getattr(obj, name)) if deep else getattr(obj, name)
        for name, deep in plan
    }


def _to_json_other(obj: Any) -> Any:
    if isinstance(obj, enum.Enum):
        return to_json_value(obj.value)
    if isinstance(obj, (tuple, list)):
        return [to_json_value(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_json_value(v) for k, v in obj.items()}
    raise TypeError(f"cannot store a {type(obj).__name__} as JSON")


_ENCODE_PLANS: dict[type, tuple[tuple[str, bool], ...]] = {}


def _encode_plan(cls: type) -> tuple[tuple[str, bool], ...]:
    """Per field: its name, and whether its value needs converting (its type mentions a
    dataclass or a plain ``Enum``) or ``json`` takes it as it is."""
    hints = typing.get_type_hints(cls)
    plan = tuple((f.name, _needs_conversion(hints[f.name])) for f in _fields(cls))
    _ENCODE_PLANS[cls] = plan
    return plan


def _needs_conversion(tp: Any) -> bool:
    if isinstance(tp, type):
        if issubclass(tp, enum.Enum):
            return not issubclass(tp, (str, int))
        return dataclasses.is_dataclass(tp) or tp not in (str, int, float, bool, type(None))
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (tuple, dict, typing.Union, types.UnionType) and args:
        return any(_needs_conversion(a) for a in args if a is not Ellipsis)
    return True  # Any, or something unforeseen: take the slow, safe way


_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def dumps(data: Any) -> str:
    """Compact, strict JSON (no NaN/Infinity), ASCII so any text survives any SQLite encoding."""
    return _ENCODER.encode(data)


def to_json(obj: Any) -> str:
    """The dataclass as compact JSON. orjson writes dataclasses, enums and tuples itself, the
    same JSON as ``to_json_value`` gives but about ten times faster (and UTF-8 rather than
    ASCII: the store's database is UTF-8); what it refuses (a dict key that is not a string, an
    int beyond 64 bits, a lone surrogate) takes the generic way. The intent model has no float
    field (orjson would write a NaN as null)."""
    try:
        return orjson.dumps(obj).decode()
    except TypeError:  # orjson.JSONEncodeError
        return _ENCODER.encode(to_json_value(obj))


# ---------------------------------------------------------------- decoding


def from_json(cls: type[T], text: str | bytes) -> Decoded[T]:
    try:
        data = json.loads(text)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise CodecError("", f"not valid JSON ({exc})") from None
    return from_data(cls, data)


def from_data(cls: type[T], data: Any) -> Decoded[T]:
    unknown: list[str] = []
    value = _decoder(cls)(data, unknown)
    return Decoded(value, tuple(unknown))


def check_supported(cls: type) -> None:
    """Raise ``TypeError`` if a field of the dataclass (or of one inside it) has a type this
    codec cannot read back."""
    seen: set[Any] = set()

    def walk(tp: Any) -> None:
        if tp in seen:
            return
        seen.add(tp)
        _decoder(tp)
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            hints = typing.get_type_hints(tp)
            for f in _fields(tp):
                walk(hints[f.name])
        for arg in typing.get_args(tp):
            if arg is not Ellipsis:
                walk(arg)

    walk(cls)


# A decoder takes the JSON value and a list to append ignored keys to (paths relative to the
# value); it raises CodecError with ``field`` relative to the value too. Containers prefix
# their child's paths, only when there is something to report.
_Decoder = Callable[[Any, list[str]], Any]
_DECODERS: dict[Any, _Decoder] = {}
_FIELDS: dict[type, tuple[dataclasses.Field[Any], ...]] = {}


def _fields(cls: type) -> tuple[dataclasses.Field[Any], ...]:
    try:
        return _FIELDS[cls]
    except KeyError:
        # fields set by __post_init__ (init=False) are derived, not stored
        out = _FIELDS[cls] = tuple(f for f in dataclasses.fields(cls) if f.init)
        return out


def _decoder(tp: Any) -> _Decoder:
    try:
        return _DECODERS[tp]
    except KeyError:
        pass
    dec = _build_decoder(tp)
    _DECODERS[tp] = dec
    return dec


def _join(outer: str, inner: str) -> str:
    if not inner:
        return outer
    if inner.startswith("["):
        return outer + inner
    return f"{outer}.{inner}"


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _build_decoder(tp: Any) -> _Decoder:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return lambda v, unknown: v
    if tp is type(None):
        return _scalar(type(None), "null")
    if origin in (typing.Union, types.UnionType):
        return _union(args)
    if origin is tuple:
        if len(args) != 2 or args[1] is not Ellipsis:
            raise TypeError(f"only tuple[X, ...] is supported, not {tp!r}")
        return _sequence(args[0])
    if origin is dict:
        return _mapping(args[1] if args else Any)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum(tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass(tp)
    if tp is bool:
        return _scalar(bool, "a boolean")
    if tp is int:
        return _scalar(int, "an integer")
    if tp is float:
        return _float
    if tp is str:
        return _scalar(str, "a string")
    raise TypeError(f"cannot decode a stored {tp!r}")


def _scalar(kind: type, what: str) -> _Decoder:
    def dec(v: Any, unknown: list[str]) -> Any:
        if type(v) is not kind:  # exact: a bool is not an int here
            raise CodecError("", f"expected {what}, got {_type_name(v)}")
        return v

    return dec


def _float(v: Any, unknown: list[str]) -> float:
    if type(v) is int or type(v) is float:
        return float(v)
    raise CodecError("", f"expected a number, got {_type_name(v)}")


def _union(args: tuple[Any, ...]) -> _Decoder:
    optional = type(None) in args
    rest = [a for a in args if a is not type(None)]
    if len(rest) != 1:
        raise TypeError(f"only X | None unions are supported, not {args!r}")
    inner = _decoder(rest[0])

    def dec(v: Any, unknown: list[str]) -> Any:
        if v is None and optional:
            return None
        return inner(v, unknown)

    return dec


def _sequence(item_type: Any) -> _Decoder:
    item = _decoder(item_type)
    fast = item_type is str

    def dec(v: Any, unknown: list[str]) -> tuple[Any, ...]:
        if type(v) is not list and type(v) is not tuple:
            raise CodecError("", f"expected a list, got {_type_name(v)}")
        if fast and all(type(x) is str for x in v):
            return tuple(v)
        out = []
        for i, x in enumerate(v):
            n = len(unknown)
            try:
                out.append(item(x, unknown))
            except CodecError as exc:
                raise CodecError(_join(f"[{i}]", exc.field), exc.reason) from None
            unknown[n:] = [_join(f"[{i}]", u) for u in unknown[n:]]
        return tuple(out)

    return dec


def _mapping(value_type: Any) -> _Decoder:
    value = _decoder(value_type)

    def dec(v: Any, unknown: list[str]) -> dict[str, Any]:
        if type(v) is not dict:
            raise CodecError("", f"expected an object, got {_type_name(v)}")
        out = {}
        for k, x in v.items():
            n = len(unknown)
            try:
                out[k] = value(x, unknown)
            except CodecError as exc:
                raise CodecError(_join(k, exc.field), exc.reason) from None
            unknown[n:] = [_join(k, u) for u in unknown[n:]]
        return out

    return dec


def _enum(cls: type[enum.Enum]) -> _Decoder:
    members = {m.value: m for m in cls}

    def dec(v: Any, unknown: list[str]) -> Any:
        try:
            return members[v]
        except (KeyError, TypeError):
            known = ", ".join(repr(m) for m in members)
            raise CodecError("", f"{v!r} is not one of {known}") from None

    return dec


def _dataclass(cls: type) -> _Decoder:
    fields = _fields(cls)
    # field decoders resolved on first use: a dataclass may refer to itself
    decoders: dict[str, _Decoder] = {}
    hints: dict[str, Any] = {}
    known = {f.name for f in fields}
    required = {
        f.name
        for f in fields
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }

    def dec(v: Any, unknown: list[str]) -> Any:
        if type(v) is not dict:
            raise CodecError("", f"expected an object, got {_type_name(v)}")
        if not decoders:
            hints.update(typing.get_type_hints(cls))
            decoders.update((name, _decoder(hints[name])) for name in known)
        kwargs: dict[str, Any] = {}
        for name, x in v.items():
            d = decoders.get(name)
            if d is None:
                unknown.append(name)
                continue
            n = len(unknown)
            try:
                kwargs[name] = d(x, unknown)
            except CodecError as exc:
                raise CodecError(_join(name, exc.field), exc.reason) from None
            if len(unknown) > n:
                unknown[n:] = [_join(name, u) for u in unknown[n:]]
        if len(kwargs) < len(required) or not required.issubset(kwargs):
            raise CodecError(min(required - kwargs.keys()), "missing (no default)")
        return cls(**kwargs)

    return dec
