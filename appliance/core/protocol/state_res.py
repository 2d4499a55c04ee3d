"""State resolution: v1 (room v1), v2 (rooms v2–v11) and the v12 variant (MSC4297).

Spec: `rooms/v1.md` ("State resolution"), `rooms/fragments/v2-state-res.md` and
`rooms/v12.md` ("State resolution"). Everything here is pure and synchronous: the caller
gathers the events first and hands in `fetch`, which must return every event of the state
sets and of their auth chains (or None for an event it does not have; such events are
left out of the full conflicted set, as they cannot be checked).

Where the spec leaves a detail open, we do what Synapse and ruma do, so that servers
converge; each such place says so.
"""
from __future__ import annotations

import hashlib
import heapq
import math
from collections.abc import Callable, Iterable, Mapping, Sequence

from .auth_rules import AuthFailure, auth_types_for_event, check_auth, get_user_power_level
from .events import Pdu, StateKey
from .room_versions import RoomVersion, StateRes

Fetch = Callable[[str], Pdu | None]

CREATE: StateKey = ("m.room.create", "")
POWER_LEVELS: StateKey = ("m.room.power_levels", "")
JOIN_RULES: StateKey = ("m.room.join_rules", "")

# A malformed event (say, a power level that is not a number) must fail its auth check
# rather than abort the resolution of the whole room.
_AUTH_ERRORS = (AuthFailure, KeyError, TypeError, ValueError, AttributeError)


def resolve(
    version: RoomVersion,
    state_sets: Sequence[Mapping[StateKey, str]],
    auth_chains: Sequence[set[str]],
    fetch: Fetch,
) -> dict[StateKey, str]:
    """The resolution of `state_sets`, each a map (type, state_key) -> event ID.

    `auth_chains[i]` is the full auth chain of `state_sets[i]` (see `auth_chain`); state
    resolution v1 does not use it.
    """
    if not state_sets:
        return {}
    if len(state_sets) == 1:
        return dict(state_sets[0])
    events = _Events(fetch)
    if version.state_res is StateRes.V1:
        return _resolve_v1(version, state_sets, events)
    if len(auth_chains) != len(state_sets):
        raise ValueError("resolve() needs one auth chain per state set")
    return _resolve_v2(version, state_sets, auth_chains, events)


def auth_chain(event_ids: Iterable[str], fetch: Fetch) -> set[str]:
    """The union of the auth chains of `event_ids`: every event reachable through
    `auth_events` links. The given events are included only if reachable from another one.
    Events `fetch` does not have are included but not followed."""
    chain: set[str] = set()
    stack: list[str] = []
    for event_id in event_ids:
        event = fetch(event_id)
        if event is not None:
            stack.extend(event.auth_event_ids)
    while stack:
        event_id = stack.pop()
        if event_id in chain:
            continue
        chain.add(event_id)
        event = fetch(event_id)
        if event is not None:
            stack.extend(a for a in event.auth_event_ids if a not in chain)
    return chain


def state_set_auth_chain(state: Mapping[StateKey, str], fetch: Fetch) -> set[str]:
    """The full auth chain of a state set, as `resolve` expects in `auth_chains`."""
    return auth_chain(state.values(), fetch)


# --- shared -----------------------------------------------------------------------------


class _Events:
    """Memoised `fetch`: each event is asked for once per resolution."""

    __slots__ = ("_fetch", "_cache")

    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch
        self._cache: dict[str, Pdu | None] = {}

    def get(self, event_id: str) -> Pdu | None:
        try:
            return self._cache[event_id]
        except KeyError:
            event = self._cache[event_id] = self._fetch(event_id)
            return event

    def __getitem__(self, event_id: str) -> Pdu:
        event = self.get(event_id)
        if event is None:
            raise LookupError(f"state resolution needs event {event_id}, which fetch lacks")
        return event


def _split(
    state_sets: Sequence[Mapping[StateKey, str]],
) -> tuple[dict[StateKey, str], dict[StateKey, set[str]]]:
    """Unconflicted state map (same value in every set) and conflicted state set.

    A key missing from some state set is conflicted (v2 definition)."""
    n = len(state_sets)
    values: dict[StateKey, set[str]] = {}
    counts: dict[StateKey, int] = {}
    for state in state_sets:
        for key, event_id in state.items():
            values.setdefault(key, set()).add(event_id)
            counts[key] = counts.get(key, 0) + 1
    unconflicted: dict[StateKey, str] = {}
    conflicted: dict[StateKey, set[str]] = {}
    for key, ids in values.items():
        if len(ids) == 1 and counts[key] == n:
            (unconflicted[key],) = ids
        else:
            conflicted[key] = ids
    return unconflicted, conflicted


def _room_create_event(
    version: RoomVersion, state_sets: Sequence[Mapping[StateKey, str]], events: _Events
) -> Pdu | None:
    """The room's create event, which v12 events no longer list in their auth events."""
    for state in state_sets:
        event_id = state.get(CREATE)
        if event_id is not None and (event := events.get(event_id)) is not None:
            return event
    # Failing that, v12 derives it from any event's room ID; earlier versions cite it.
    for state in state_sets:
        for event_id in state.values():
            event = events.get(event_id)
            if event is None:
                continue
            if version.event_format.room_id_is_create_hash:
                room_id = event.room_id
                if room_id and (create := events.get("$" + room_id[1:])) is not None:
                    return create
            for auth_id in event.auth_event_ids:
                auth = events.get(auth_id)
                if auth is not None and auth.type == "m.room.create" and auth.state_key == "":
                    return auth
    return None


def _is_state(event: Pdu, key: StateKey) -> bool:
    return event.is_state and event.type == key[0] and event.state_key == key[1]


def _passes_auth(
    version: RoomVersion, event: Pdu, auth_events: Mapping[StateKey, Pdu], create: Pdu | None
) -> bool:
    try:
        check_auth(event, auth_events, create_event=create)
    except _AUTH_ERRORS:
        return False
    return True


# --- v2 and v2.1 --------------------------------------------------------------------------


def _resolve_v2(
    version: RoomVersion,
    state_sets: Sequence[Mapping[StateKey, str]],
    auth_chains: Sequence[set[str]],
    events: _Events,
) -> dict[StateKey, str]:
    v2_1 = version.state_res is StateRes.V2_1
    unconflicted, conflicted = _split(state_sets)
    if not conflicted:
        return unconflicted
    conflicted_ids = set().union(*conflicted.values())

    full_conflicted = _auth_difference(auth_chains) | conflicted_ids
    if v2_1:
        full_conflicted |= _conflicted_subgraph(conflicted_ids, events)
    # Events we cannot fetch cannot be checked: leave them out (as Synapse and ruma do).
    full_conflicted = {e for e in full_conflicted if events.get(e) is not None}

    create = _room_create_event(version, state_sets, events)

    # 1. Power events and their auth chains within the full conflicted set, sorted.
    power_ids = [e for e in full_conflicted if _is_power_event(events[e])]
    graph = _auth_graph(power_ids, full_conflicted, events)
    sorted_power = _reverse_topological_power_order(graph, events, create)

    # 2. Iterative auth checks from the unconflicted state map (v2.1: from empty).
    initial = {} if v2_1 else dict(unconflicted)
    partial = _iterative_auth_checks(version, sorted_power, initial, events, create)

    # 3. The rest, in mainline order of the partially resolved power levels.
    remaining = [e for e in full_conflicted if e not in graph]
    sorted_rest = _mainline_order(remaining, partial.get(POWER_LEVELS), events)

    # 4. Iterative auth checks again, from the partial state.
    resolved = _iterative_auth_checks(version, sorted_rest, partial, events, create)

    # 5. The unconflicted state map wins.
    resolved.update(unconflicted)
    return resolved


def _auth_difference(auth_chains: Sequence[set[str]]) -> set[str]:
    """∪ Cᵢ − ∩ Cᵢ."""
    if not auth_chains:
        return set()
    union = set().union(*auth_chains)
    intersection = set(min(auth_chains, key=len)).intersection(*auth_chains)
    return union - intersection


def _conflicted_subgraph(conflicted_ids: set[str], events: _Events) -> set[str]:
    """v12: every event on an `auth_events` path between two conflicted events, endpoints
    included. That is the events reachable from a conflicted event which can also reach one;
    both walks are linear in the auth DAG below the conflicted events."""
    # Forward: everything reachable from the conflicted events, with reverse edges.
    reached: set[str] = set(conflicted_ids)
    cited_by: dict[str, list[str]] = {}
    stack = list(conflicted_ids)
    while stack:
        event_id = stack.pop()
        event = events.get(event_id)
        if event is None:
            continue
        for auth_id in event.auth_event_ids:
            cited_by.setdefault(auth_id, []).append(event_id)
            if auth_id not in reached:
                reached.add(auth_id)
                stack.append(auth_id)
    # Backward from each conflicted event that some conflicted event reaches: the events
    # that cite it, transitively, all lie on a conflicted-to-conflicted path.
    subgraph: set[str] = set()
    stack = [c for c in conflicted_ids if c in cited_by]
    while stack:
        event_id = stack.pop()
        if event_id in subgraph:
            continue
        subgraph.add(event_id)
        stack.extend(c for c in cited_by.get(event_id, ()) if c not in subgraph)
    return subgraph


def _is_power_event(event: Pdu) -> bool:
    """Power levels, join rules, and kicks/bans. As in Synapse and ruma, the create event
    counts too, and the first two need an empty state key."""
    if not event.is_state:
        return False
    if event.type in ("m.room.power_levels", "m.room.join_rules", "m.room.create"):
        return event.state_key == ""
    if event.type == "m.room.member":
        return event.membership in ("leave", "ban") and event.sender != event.state_key
    return False


def _auth_graph(
    start_ids: Iterable[str], full_conflicted: set[str], events: _Events
) -> dict[str, list[str]]:
    """The power events plus the events of their auth chains in the full conflicted set,
    each mapped to its auth events in that set.

    As in Synapse and ruma, the walk follows `auth_events` only through events of the full
    conflicted set. (In v12 the conflicted state subgraph makes this equal to "the auth
    chain ∩ the full conflicted set" for conflicted events.)"""
    graph: dict[str, list[str]] = {}
    stack = list(start_ids)
    while stack:
        event_id = stack.pop()
        if event_id in graph:
            continue
        edges = [a for a in dict.fromkeys(events[event_id].auth_event_ids) if a in full_conflicted]
        graph[event_id] = edges
        stack.extend(a for a in edges if a not in graph)
    return graph


def _sender_power_level(event: Pdu, events: _Events, create: Pdu | None) -> int | float:
    """The sender's power level as its own auth events say (for the power ordering)."""
    power_levels = None
    auth_create = None
    for auth_id in event.auth_event_ids:
        auth = events.get(auth_id)
        if auth is None:
            continue
        if power_levels is None and _is_state(auth, POWER_LEVELS):
            power_levels = auth
        elif auth_create is None and _is_state(auth, CREATE):
            auth_create = auth
    if event.room_version.auth.create_event_in_auth_events and auth_create is not None:
        create = auth_create
    if create is None:
        create = event if _is_state(event, CREATE) else None
    if create is None:
        return 0
    try:
        return get_user_power_level(event.sender, power_levels, create)
    except (KeyError, TypeError, ValueError, AttributeError):
        return 0


def _reverse_topological_power_order(
    graph: Mapping[str, list[str]], events: _Events, create: Pdu | None
) -> list[str]:
    """Kahn's algorithm over the auth DAG, oldest first, always taking the smallest ready
    event by (higher sender power, then earlier origin_server_ts, then event ID)."""
    def sort_key(event_id: str) -> tuple[float, int, str]:
        event = events[event_id]
        return (-_sender_power_level(event, events, create), event.origin_server_ts, event_id)

    pending = {event_id: len(auth_ids) for event_id, auth_ids in graph.items()}
    cited_by: dict[str, list[str]] = {}
    for event_id, auth_ids in graph.items():
        for auth_id in auth_ids:
            cited_by.setdefault(auth_id, []).append(event_id)
    heap = [(*sort_key(e), e) for e, n in pending.items() if n == 0]
    heapq.heapify(heap)
    ordered: list[str] = []
    while heap:
        event_id = heapq.heappop(heap)[-1]
        ordered.append(event_id)
        for parent in cited_by.get(event_id, ()):
            pending[parent] -= 1
            if pending[parent] == 0:
                heapq.heappush(heap, (*sort_key(parent), parent))
    return ordered


def _mainline_order(
    event_ids: list[str], power_levels_id: str | None, events: _Events
) -> list[str]:
    """Sort by mainline position of each event's power levels (earlier in the mainline
    first; none at all first of all), then origin_server_ts, then event ID."""
    if not event_ids:
        return []
    position: dict[str, float] = {}  # power levels event ID -> mainline position
    index = 0
    pl_id = power_levels_id
    while pl_id is not None and pl_id not in position:
        position[pl_id] = index
        index += 1
        pl_id = _power_levels_auth_event(events[pl_id], events)

    def mainline_position(event: Pdu) -> float:
        walked: list[str] = []
        found = math.inf
        pl_id = _power_levels_auth_event(event, events)
        while pl_id is not None:
            if pl_id in position:
                found = position[pl_id]
                break
            walked.append(pl_id)
            pl_event = events.get(pl_id)
            pl_id = _power_levels_auth_event(pl_event, events) if pl_event is not None else None
        # Power levels off the mainline reach it (or not) where this walk did: remember.
        # Safe: an off-mainline PL's own position is never read as "the event itself".
        for walked_id in walked:
            position[walked_id] = found
        return found

    def sort_key(event_id: str) -> tuple[float, int, str]:
        event = events[event_id]
        return (-mainline_position(event), event.origin_server_ts, event_id)

    return sorted(event_ids, key=sort_key)


def _power_levels_auth_event(event: Pdu, events: _Events) -> str | None:
    for auth_id in event.auth_event_ids:
        auth = events.get(auth_id)
        if auth is not None and _is_state(auth, POWER_LEVELS):
            return auth_id
    return None


def _iterative_auth_checks(
    version: RoomVersion,
    event_ids: Iterable[str],
    state: dict[StateKey, str],
    events: _Events,
    create: Pdu | None,
) -> dict[StateKey, str]:
    """Apply each event in turn if it passes auth against the state so far, falling back to
    its own (non-rejected) auth events for keys the state lacks. Before v12 the create event
    comes from there too; from v12 it is the room's."""
    cite_create = version.auth.create_event_in_auth_events
    for event_id in event_ids:
        event = events[event_id]
        if not event.is_state:
            continue
        auth_events: dict[StateKey, Pdu] = {}
        for auth_id in event.auth_event_ids:
            auth = events.get(auth_id)
            if auth is not None and not auth.rejected and auth.is_state:
                auth_events[auth.state_tuple] = auth
        if not cite_create and create is not None and event.type != "m.room.create":
            auth_events[CREATE] = create  # v12: always part of the state, never cited
        try:
            keys = auth_types_for_event(
                version, event.type, event.state_key, event.sender, event.content
            )
        except _AUTH_ERRORS:
            continue
        for key in keys:
            state_id = state.get(key)
            if state_id is not None:
                auth = events.get(state_id)
                if auth is not None and not auth.rejected:
                    auth_events[key] = auth
        if _passes_auth(version, event, auth_events, None if cite_create else create):
            state[event.state_tuple] = event_id
    return state


# --- v1 -----------------------------------------------------------------------------------


def _resolve_v1(
    version: RoomVersion, state_sets: Sequence[Mapping[StateKey, str]], events: _Events
) -> dict[StateKey, str]:
    """Room v1: R starts as the union of the states without conflicting keys (a key missing
    from a state does not conflict); then power levels, join rules and memberships are
    resolved in that order, each pass against R as the previous pass left it (as Synapse
    does, so that the order of keys within a pass does not matter); then everything else."""
    values: dict[StateKey, set[str]] = {}
    for state in state_sets:
        for key, event_id in state.items():
            values.setdefault(key, set()).add(event_id)
    resolved: dict[StateKey, str] = {}
    conflicted: dict[StateKey, list[Pdu]] = {}
    for key, ids in values.items():
        if len(ids) == 1:
            (resolved[key],) = ids
        else:
            found = [events.get(e) for e in ids]
            conflicted[key] = [e for e in found if e is not None]
            if not conflicted[key]:
                del conflicted[key]
    if not conflicted:
        return resolved
    create = _room_create_event(version, state_sets, events)

    for event_type in ("m.room.power_levels", "m.room.join_rules", "m.room.member"):
        snapshot = dict(resolved)
        for key, candidates in conflicted.items():
            if key[0] == event_type:
                resolved[key] = _v1_resolve_auth_key(version, candidates, snapshot, events, create)
    snapshot = dict(resolved)
    for key, candidates in conflicted.items():
        if key[0] not in ("m.room.power_levels", "m.room.join_rules", "m.room.member"):
            resolved[key] = _v1_resolve_normal_key(version, candidates, snapshot, events, create)
    return resolved


def _v1_order(candidates: list[Pdu]) -> list[Pdu]:
    """Ascending depth, then descending sha1(event_id)."""
    def sha1(event: Pdu) -> str:
        return hashlib.sha1(event.event_id.encode("utf-8")).hexdigest()

    by_sha = sorted(candidates, key=sha1, reverse=True)
    return sorted(by_sha, key=lambda e: e.depth)  # stable: keeps descending sha1 within depth


def _v1_auth_events(
    version: RoomVersion, event: Pdu, state: Mapping[StateKey, str], events: _Events
) -> dict[StateKey, Pdu]:
    auth_events: dict[StateKey, Pdu] = {}
    try:
        keys = auth_types_for_event(
            version, event.type, event.state_key, event.sender, event.content
        )
    except _AUTH_ERRORS:
        return auth_events
    for key in keys:
        state_id = state.get(key)
        if state_id is not None and (auth := events.get(state_id)) is not None:
            auth_events[key] = auth
    return auth_events


def _v1_resolve_auth_key(
    version: RoomVersion,
    candidates: list[Pdu],
    state: Mapping[StateKey, str],
    events: _Events,
    create: Pdu | None,
) -> str:
    """Take the first event in order, then each next one while it passes auth in R."""
    ordered = _v1_order(candidates)
    r = dict(state)
    chosen = ordered[0]
    r[chosen.state_tuple] = chosen.event_id
    for event in ordered[1:]:
        if not _passes_auth(version, event, _v1_auth_events(version, event, r, events), create):
            break
        chosen = event
        r[chosen.state_tuple] = chosen.event_id
    return chosen.event_id


def _v1_resolve_normal_key(
    version: RoomVersion,
    candidates: list[Pdu],
    state: Mapping[StateKey, str],
    events: _Events,
    create: Pdu | None,
) -> str:
    """The highest depth, lowest sha1(event_id) event that passes auth in R; if none does,
    the last in that order (as Synapse does)."""
    ordered = list(reversed(_v1_order(candidates)))
    for event in ordered:
        if _passes_auth(version, event, _v1_auth_events(version, event, state, events), create):
            return event.event_id
    return ordered[-1].event_id
