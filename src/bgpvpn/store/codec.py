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
    """A dataclass (or any value inside one) as plain JSON data."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        # enums first: a StrEnum is a str, an IntEnum an int; both serialize as their value
        return obj.value if isinstance(obj, enum.Enum) else obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_json_value(getattr(obj, f.name)) for f in _fields(type(obj))}
    if isinstance(obj, (tuple, list)):
        return [to_json_value(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_json_value(v) for k, v in obj.items()}
    if isinstance(obj, enum.Enum):
        return to_json_value(obj.value)
    raise TypeError(f"cannot store a {type(obj).__name__} as JSON")


def dumps(data: Any) -> str:
    """Compact, strict JSON (no NaN/Infinity), ASCII so any text survives any SQLite encoding."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


def to_json(obj: Any) -> str:
    return dumps(to_json_value(obj))


# ---------------------------------------------------------------- decoding


def from_json(cls: type[T], text: str | bytes) -> Decoded[T]:
    try:
        data = json.loads(text)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise CodecError("", f"not valid JSON ({exc})") from None
    return from_data(cls, data)


def from_data(cls: type[T], data: Any) -> Decoded[T]:
    unknown: list[str] = []
    value = _decoder(cls)(data, "", unknown)
    return Decoded(value, tuple(unknown))


_Decoder = Callable[[Any, str, list[str]], Any]
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


def _where(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _build_decoder(tp: Any) -> _Decoder:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return lambda v, path, unknown: v
    if tp is type(None):
        return _scalar(type(None), "null")
    if origin in (typing.Union, types.UnionType):
        return _union(args)
    if origin is tuple:
        if len(args) != 2 or args[1] is not Ellipsis:
            raise TypeError(f"only tuple[X, ...] is supported, not {tp!r}")
        return _sequence(_decoder(args[0]))
    if origin is dict:
        return _mapping(_decoder(args[1]) if args else _decoder(Any))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum(tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass(tp)
    if tp is bool:
        return _scalar(bool, "a boolean")
    if tp is int:
        return _int
    if tp is float:
        return _float
    if tp is str:
        return _scalar(str, "a string")
    raise TypeError(f"cannot decode a stored {tp!r}")


def _scalar(kind: type, what: str) -> _Decoder:
    def dec(v: Any, path: str, unknown: list[str]) -> Any:
        if type(v) is not kind:
            raise CodecError(path, f"expected {what}, got {_type_name(v)}")
        return v

    return dec


def _int(v: Any, path: str, unknown: list[str]) -> int:
    if type(v) is not int:
        raise CodecError(path, f"expected an integer, got {_type_name(v)}")
    return v


def _float(v: Any, path: str, unknown: list[str]) -> float:
    if type(v) is int or type(v) is float:
        return float(v)
    raise CodecError(path, f"expected a number, got {_type_name(v)}")


def _union(args: tuple[Any, ...]) -> _Decoder:
    optional = type(None) in args
    rest = [a for a in args if a is not type(None)]
    if len(rest) != 1:
        raise TypeError(f"only X | None unions are supported, not {args!r}")
    inner = _decoder(rest[0])

    def dec(v: Any, path: str, unknown: list[str]) -> Any:
        if v is None and optional:
            return None
        return inner(v, path, unknown)

    return dec


def _sequence(item: _Decoder) -> _Decoder:
    def dec(v: Any, path: str, unknown: list[str]) -> tuple[Any, ...]:
        if not isinstance(v, list):
            raise CodecError(path, f"expected a list, got {_type_name(v)}")
        return tuple(item(x, f"{path}[{i}]", unknown) for i, x in enumerate(v))

    return dec


def _mapping(value: _Decoder) -> _Decoder:
    def dec(v: Any, path: str, unknown: list[str]) -> dict[str, Any]:
        if not isinstance(v, dict):
            raise CodecError(path, f"expected an object, got {_type_name(v)}")
        return {k: value(x, _where(path, k), unknown) for k, x in v.items()}

    return dec


def _enum(cls: type[enum.Enum]) -> _Decoder:
    def dec(v: Any, path: str, unknown: list[str]) -> Any:
        try:
            return cls(v)
        except ValueError:
            known = ", ".join(repr(m.value) for m in cls)
            raise CodecError(path, f"{v!r} is not one of {known}") from None

    return dec


def _dataclass(cls: type) -> _Decoder:
    hints = typing.get_type_hints(cls)
    fields = _fields(cls)
    known = {f.name for f in fields}
    # resolved lazily: a dataclass may refer to itself
    decoders: dict[str, _Decoder] = {}
    required = {
        f.name
        for f in fields
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }

    def dec(v: Any, path: str, unknown: list[str]) -> Any:
        if not isinstance(v, dict):
            raise CodecError(path, f"expected an object, got {_type_name(v)}")
        kwargs: dict[str, Any] = {}
        for name, x in v.items():
            if name not in known:
                unknown.append(_where(path, name))
                continue
            d = decoders.get(name)
            if d is None:
                d = decoders[name] = _decoder(hints[name])
            kwargs[name] = d(x, _where(path, name), unknown)
        missing = required - kwargs.keys()
        if missing:
            raise CodecError(_where(path, min(missing)), "missing (no default)")
        return cls(**kwargs)

    return dec
