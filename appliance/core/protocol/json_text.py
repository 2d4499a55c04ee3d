"""JSON text from clients, parsed with a cap on nesting.

Python's parser recurses once per level of nesting and raises RecursionError near the
interpreter's limit (~1,000 levels); what the server then does with a parsed body (pydantic,
canonical JSON, storage) recurses too. No Matrix body needs more than a handful of levels, so
anything nested deeper than MAX_JSON_DEPTH is refused like text that is not JSON at all.
"""
from __future__ import annotations

import json
from typing import Any

MAX_JSON_DEPTH = 100


class TooDeep(ValueError):
    """Nested deeper than MAX_JSON_DEPTH (a ValueError, as json's own errors are)."""


def loads_bounded(text: str | bytes) -> Any:
    """json.loads, refusing more than MAX_JSON_DEPTH levels of objects and arrays."""
    # A text with fewer opening brackets than the cap cannot be too deep: nearly every body
    # is answered by two C-speed counts, without walking the parsed value.
    if isinstance(text, bytes):
        openers = text.count(b"{") + text.count(b"[")
    else:
        openers = text.count("{") + text.count("[")
    try:
        value = json.loads(text)
    except RecursionError:
        raise TooDeep(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    if openers >= MAX_JSON_DEPTH and _depth(value) > MAX_JSON_DEPTH:
        raise TooDeep(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def _depth(value: Any) -> int:
    """Levels of objects and arrays in a parsed value, without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, level)
        if level > MAX_JSON_DEPTH:
            return level
        stack.extend((child, level + 1) for child in children)
    return deepest
