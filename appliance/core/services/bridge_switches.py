"""Which in-process bridges are switched on: the one rule the bridge host and the bridges group
(which builds the host only once one is on) both follow. Kept apart from appliance/bridges so that
a box without bridges reads its switches without loading the host.

A bridge is switched on by its stored entry, the server setting `bridge_<id>` =
{"enabled": …, "settings": {…}}, unless the operator names the running bridges outright
(HEARTH_BRIDGES_ENABLED: `forced`, which then decides alone)."""
from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

WATCH_S = 2.0  # how often the stored switches are read again (another process, the CLI, may change them)
_PREFIX = "bridge_"


def setting_key(bridge_id: str) -> str:
    return f"{_PREFIX}{bridge_id}"


def is_on(bridge_id: str, entry: Any, forced: Collection[str] | None) -> bool:
    """Whether one bridge should run, given its stored entry (anything: only a dict counts)."""
    if forced is not None:
        return bridge_id in forced
    return isinstance(entry, dict) and bool(entry.get("enabled"))


def any_on(stored: Mapping[str, Any], forced: Collection[str] | None) -> bool:
    """Whether any bridge should run, from every stored server setting."""
    if forced is not None:
        return bool(forced)
    return any(is_on(key[len(_PREFIX):], entry, None) for key, entry in stored.items() if key.startswith(_PREFIX))
