"""Canonical JSON (appendices.md "Canonical JSON"): the bytes that are hashed and signed.

The encoding is the stdlib's compact, key-sorted, UTF-8 JSON. What the stdlib does not do is
the number rules, so values are normalised first:

- A float with an integral value becomes an int, as in the spec's own example, where
  `{"a": -0, "b": 1e10}` encodes as `{"a":0,"b":10000000000}`.
- NaN and infinities are never JSON, so they are always rejected.
- In strict mode (room versions 6+, `EventFormat.strict_canonical_json`) any float, and any
  int outside [-(2**53)+1, 2**53-1], raises ValueError. Outside strict mode, events of room
  versions 1–5 may carry such numbers and must still be hashed, so they are encoded as they are.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from .room_versions import RoomVersion

MAX_SAFE_INT = 2**53 - 1
MIN_SAFE_INT = -MAX_SAFE_INT

_encoder = json.JSONEncoder(
    ensure_ascii=False,
    allow_nan=False,
    separators=(",", ":"),
    sort_keys=True,
)


def encode_canonical_json(obj: Any, strict: bool = False) -> bytes:
    """The canonical JSON encoding of `obj`.

    Raises ValueError for values that have no canonical encoding (NaN, non-string keys, lone
    surrogates) and, if `strict`, for floats and ints outside the safe range. Raises TypeError
    for values that are not JSON at all.
    """
    return _encoder.encode(_normalise(obj, strict)).encode("utf-8")


def normalise(obj: Any, strict: bool = False) -> Any:
    """A copy of `obj` with the number rules applied (and checked), ready for
    `encode_normalised`: what `encode_canonical_json` does before it encodes."""
    return _normalise(obj, strict)


def encode_normalised(obj: Any) -> bytes:
    """The canonical JSON of a value that is already `normalise`d (or built only from
    normalised values): encodes without walking it again."""
    return _encoder.encode(obj).encode("utf-8")


def check_canonical_json(obj: Any) -> None:
    """Raise ValueError if `obj` breaks the strict number rules (a float, or an unsafe int)."""
    _normalise(obj, strict=True)


def check_event_json_valid(obj: Any, version: RoomVersion) -> None:
    """Raise ValueError if an event's JSON is not acceptable in rooms of `version`.

    Only room versions with `strict_canonical_json` (v6+) restrict numbers; earlier versions
    accept anything the non-strict encoder can encode.
    """
    _normalise(obj, strict=version.event_format.strict_canonical_json)


def _normalise(value: Any, strict: bool) -> Any:
    # bool is a subclass of int: test it first so True never reaches the range check.
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        if strict and not MIN_SAFE_INT <= value <= MAX_SAFE_INT:
            raise ValueError(f"integer {value} is outside the canonical JSON range")
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} is not a JSON number")
        if strict:
            raise ValueError(f"float {value!r} is not allowed in canonical JSON")
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"object key {key!r} is not a string")
            out[key] = _normalise(item, strict)
        return out
    if isinstance(value, (list, tuple)):
        return [_normalise(item, strict) for item in value]
    raise TypeError(f"{type(value).__name__} is not JSON")
