"""State resolution (rooms/fragments/v2-state-res.md, rooms/v12.md, rooms/v1.md).

Three kinds of test:
- known-answer rooms in tests/vectors/state_res/ (ruma's fixtures, our format);
- tiny DAGs written as edge lists, whose expected states are reasoned out from the spec in
  each test's docstring;
- the building blocks (auth difference, conflicted subgraph, orderings) and a large room.
"""
from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from appliance.core.protocol import room_versions
from appliance.core.protocol.auth_rules import auth_types_for_event
from appliance.core.protocol.events import Pdu, StateKey
from appliance.core.protocol.room_versions import RoomVersion
from appliance.core.protocol.state_res import (
    _auth_difference,
    _conflicted_subgraph,
    _Events,
    _iterative_auth_checks,
    _mainline_order,
    _reverse_topological_power_order,
    auth_chain,
    resolve,
    state_set_auth_chain,
)

VECTORS = Path(__file__).parent.parent / "vectors" / "state_res"
V1, V10, V11, V12 = (room_versions.KNOWN[v] for v in ("1", "10", "11", "12"))

ALICE, BOB, CHARLIE, ELLA, ZARA = (
    f"@{n}:example.com" for n in ("alice", "bob", "charlie", "ella", "zara")
)


def _key(text: str) -> StateKey:
    event_type, _, state_key = text.partition("|")
    return (event_type, state_key)


def _resolve(
    version: RoomVersion, states: Sequence[Mapping[StateKey, str]], events: Mapping[str, Pdu]
) -> dict[StateKey, str]:
    chains = [state_set_auth_chain(s, events.get) for s in states]
    return resolve(version, states, chains, events.get)


# --- known-answer rooms -------------------------------------------------------------------


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


CASES = sorted(VECTORS.glob("*.json"))
BATCH_CASES = [p for p in CASES if "batches" in _load(p)]
MAP_CASES = [p for p in CASES if "state_sets" in _load(p)]


def test_every_upstream_case_is_here() -> None:
    names = {_load(p)["name"] for p in CASES}
    assert names == {
        "minimal_private_chat", "minimal_public_chat", "origin_server_ts_tiebreak",
        "ban_vs_power_levels", "topic_vs_power_levels", "power_levels_admin_vs_mod",
        "topic_vs_ban", "join_rules_vs_join", "concurrent_joins",
        "msc4297_problem_a_state_res_v2_0", "msc4297_problem_a_state_res_v2_1",
        "msc4297_problem_b_state_res_v2_0", "msc4297_problem_b_state_res_v2_1",
    }


def _pdus(version: RoomVersion, raw: list[dict[str, Any]]) -> list[Pdu]:
    return [Pdu(d["event_id"], version, d) for d in raw]


def _resolve_event_by_event(version: RoomVersion, pdus: list[Pdu]) -> dict[StateKey, str]:
    """Walk prev_events forward: the state before each event resolves the states after its
    prev_events; the state after it resolves {before, before + event} (which admits the event
    only if it passes auth); the room's state resolves the states after the leaves."""
    by_id = {p.event_id: p for p in pdus}
    after: dict[str, dict[StateKey, str]] = {}
    cited: set[str] = set()
    todo = list(pdus)
    while todo:
        ready = [p for p in todo if all(prev in after for prev in p.prev_event_ids)]
        assert ready, "prev_events point outside the room"
        for pdu in ready:
            before = _resolve(version, [after[prev] for prev in pdu.prev_event_ids], by_id)
            proposed = {**before, pdu.state_tuple: pdu.event_id}
            after[pdu.event_id] = _resolve(version, [before, proposed], by_id)
            cited.update(pdu.prev_event_ids)
            todo.remove(pdu)
    leaves = [p.event_id for p in pdus if p.event_id not in cited]
    return _resolve(version, [after[leaf] for leaf in leaves], by_id)


def _resolve_batch(
    version: RoomVersion,
    batch: list[Pdu],
    by_id: dict[str, Pdu],
    previous: dict[StateKey, str] | None,
) -> dict[StateKey, str]:
    """Each PDU of the batch is a state set of its own, next to the previous result."""
    by_id.update((p.event_id, p) for p in batch)
    states = [previous] if previous is not None else []
    states += [{p.state_tuple: p.event_id} for p in batch]
    return _resolve(version, states, by_id)


@pytest.mark.parametrize("path", BATCH_CASES, ids=lambda p: p.stem)
def test_batches_vector(path: Path) -> None:
    case = _load(path)
    version = room_versions.KNOWN[case["room_version"]]
    expected = {_key(k): v for k, v in case["expected_state"].items()}
    batches = [_pdus(version, b) for b in case["batches"]]
    everything = [p for b in batches for p in b]

    assert _resolve_event_by_event(version, everything) == expected

    by_id: dict[str, Pdu] = {}
    state = None
    for batch in batches:
        state = _resolve_batch(version, batch, by_id, state)
    assert state == expected

    assert _resolve_batch(version, everything, {}, None) == expected


@pytest.mark.parametrize("path", MAP_CASES, ids=lambda p: p.stem)
def test_state_maps_vector(path: Path) -> None:
    case = _load(path)
    version = room_versions.KNOWN[case["room_version"]]
    by_id = {p.event_id: p for p in _pdus(version, case["pdus"])}
    states = [{by_id[e].state_tuple: e for e in ids} for ids in case["state_sets"]]
    expected = {_key(k): v for k, v in case["expected_state"].items()}
    assert _resolve(version, states, by_id) == expected
    assert _resolve(version, states[::-1], by_id) == expected


def test_msc4297_variants_differ_as_the_msc_says() -> None:
    """Problem A: v2.0 loses the join rules (both fail against the unconflicted "alice left");
    v2.1 keeps them. Problem B: v2.0 resets power levels to the first; v2.1 keeps bob's."""
    def expected(problem: str, variant: str) -> dict[str, str]:
        path = VECTORS / f"msc4297_problem_{problem}_state_res_v2_{variant}.json"
        return _load(path)["expected_state"]

    a0, a1 = expected("a", "0"), expected("a", "1")
    assert "m.room.join_rules|" not in a0 and a1["m.room.join_rules|"] == "$01-m-room-join_rules"
    b0, b1 = expected("b", "0"), expected("b", "1")
    assert b0["m.room.power_levels|"] == "$00-m-room-power_levels"
    assert b1["m.room.power_levels|"] == "$02-m-room-power_levels"


# --- tiny DAGs as edge lists --------------------------------------------------------------


class Dag:
    """A room built from named events and edge lists, as in Synapse's tests/state/test_v2.py.

    The initial events form a line CREATE → IMA → IPOWER → IJR → IMB → IMC (alice creates a
    public room with herself at 100 and bob and charlie join). `run(nodes, edges)` then adds
    `nodes` (origin_server_ts in list order) whose prev_events come from `edges`: each edge
    list runs from later to earlier ("START" is IMC). Each event's auth events are chosen from
    the state before it. It returns the resolution of the states after END's prev_events.
    """

    def __init__(self, version: RoomVersion) -> None:
        self.version = version
        self.events: dict[str, Pdu] = {}
        self.after: dict[str, dict[StateKey, str]] = {}
        self.names: dict[str, str] = {}  # event ID -> name
        self.ts = 0
        create_content: dict[str, Any] = {"room_version": version.id}
        if version.event_format.create_has_creator:
            create_content["creator"] = ALICE
        users = {} if version.auth.privileged_creators else {ALICE: 100}
        initial = [
            ("CREATE", "m.room.create", ALICE, "", create_content),
            ("IMA", "m.room.member", ALICE, ALICE, {"membership": "join"}),
            ("IPOWER", "m.room.power_levels", ALICE, "", {"users": users}),
            ("IJR", "m.room.join_rules", ALICE, "", {"join_rule": "public"}),
            ("IMB", "m.room.member", BOB, BOB, {"membership": "join"}),
            ("IMC", "m.room.member", CHARLIE, CHARLIE, {"membership": "join"}),
        ]
        prev: list[str] = []
        for node in initial:
            self._add(*node, prev=prev)
            prev = [node[0]]
        self.initial_state = {k: self.names[v] for k, v in self.after["IMC"].items()}

    def id(self, name: str) -> str:
        if self.version.event_format.event_id_in_event:
            return f"${name}:example.com"
        return "$" + name

    @property
    def room_id(self) -> str:
        if self.version.event_format.room_id_is_create_hash:
            return "!" + self.id("CREATE")[1:]
        return "!room:example.com"

    def _add(
        self, name: str, event_type: str, sender: str, state_key: str, content: dict, *,
        prev: list[str],
    ) -> None:
        prev_ids = [self.id(p) for p in prev]
        before = _resolve(self.version, [self.after[p] for p in prev], self.events) if prev else {}
        keys = auth_types_for_event(self.version, event_type, state_key, sender, content)
        data = {
            "type": event_type, "sender": sender, "state_key": state_key, "content": content,
            "prev_events": prev_ids, "auth_events": [before[k] for k in keys if k in before],
            "origin_server_ts": self.ts,
            "depth": 1 + max((self.events[p].depth for p in prev_ids), default=0),
        }
        if event_type != "m.room.create" or not self.version.event_format.room_id_is_create_hash:
            data["room_id"] = self.room_id
        self.ts += 1
        event_id = self.id(name)
        self.events[event_id] = Pdu(event_id, self.version, data)
        self.names[event_id] = name
        self.after[name] = {**before, (event_type, state_key): event_id}

    def run(self, nodes: list[tuple], edges: list[list[str]]) -> dict[StateKey, str]:
        prevs: dict[str, list[str]] = {}
        for edge in edges:
            for later, earlier in zip(edge, edge[1:]):
                prevs.setdefault(later, []).append("IMC" if earlier == "START" else earlier)
        for node in nodes:
            self._add(*node, prev=prevs[node[0]])
        result = _resolve(self.version, [self.after[p] for p in prevs["END"]], self.events)
        return {k: self.names[v] for k, v in result.items()}

    def expect(self, **changes: str | None) -> dict[StateKey, str]:
        """The initial state with some keys changed (None: absent). Keys: PL, JR, TOPIC, or a
        user's name for their membership."""
        keys = {
            "PL": ("m.room.power_levels", ""),
            "JR": ("m.room.join_rules", ""),
            "TOPIC": ("m.room.topic", ""),
        }
        state = dict(self.initial_state)
        for name, value in changes.items():
            key = keys.get(name) or ("m.room.member", f"@{name.lower()}:example.com")
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
        return state


def PL(name: str, sender: str, users: dict[str, int], **extra: Any) -> tuple:
    return (name, "m.room.power_levels", sender, "", {"users": users, **extra})


def MEMBER(name: str, sender: str, target: str, membership: str) -> tuple:
    return (name, "m.room.member", sender, target, {"membership": membership})


def TOPIC(name: str, sender: str) -> tuple:
    return (name, "m.room.topic", sender, "", {"topic": name})


def JR(name: str, sender: str, rule: str) -> tuple:
    return (name, "m.room.join_rules", sender, "", {"join_rule": rule})


V2_ROOMS = [V10, V11]


@pytest.mark.parametrize("version", V2_ROOMS, ids=lambda v: f"v{v.id}")
def test_dag_ban_vs_power_levels(version: RoomVersion) -> None:
    """Alice bans bob while bob, a moderator, concurrently re-sends the power levels.
    The power events sort alice's (100) before bob's (50) where both are ready; the ban
    applies, so bob's power levels fail (he is banned)."""
    dag = Dag(version)
    nodes = [
        PL("PA", ALICE, {ALICE: 100, BOB: 50}),
        MEMBER("MA", ALICE, ALICE, "join"),
        MEMBER("MB", ALICE, BOB, "ban"),
        PL("PB", BOB, {ALICE: 100, BOB: 50}),
    ]
    edges = [["END", "MB", "MA", "PA", "START"], ["END", "PB", "PA"]]
    assert dag.run(nodes, edges) == dag.expect(PL="PA", ALICE="MA", BOB="MB")


@pytest.mark.parametrize("version", V2_ROOMS, ids=lambda v: f"v{v.id}")
def test_dag_topic_race_tie_broken_by_timestamp(version: RoomVersion) -> None:
    """Two concurrent topics cite the same power levels: same mainline position, so the one
    with the later origin_server_ts is applied last and wins."""
    dag = Dag(version)
    nodes = [TOPIC("T1", ALICE), TOPIC("T2", ALICE)]
    edges = [["END", "T1", "START"], ["END", "T2", "START"]]
    assert dag.run(nodes, edges) == dag.expect(TOPIC="T2")


@pytest.mark.parametrize("version", V2_ROOMS, ids=lambda v: f"v{v.id}")
def test_dag_topic_basic(version: RoomVersion) -> None:
    """Alice demotes bob (PA2) while bob re-sends power levels (PB) and sets a topic (T3).
    PA2 (alice, 100) sorts before PB (bob, 50); PB then fails. T2 and T3 both sit at the
    mainline position of PA1; T2 is older, then T3 fails as bob is at 0."""
    dag = Dag(version)
    nodes = [
        TOPIC("T1", ALICE),
        PL("PA1", ALICE, {ALICE: 100, BOB: 50}),
        TOPIC("T2", ALICE),
        PL("PA2", ALICE, {ALICE: 100, BOB: 0}),
        PL("PB", BOB, {ALICE: 100, BOB: 50}),
        TOPIC("T3", BOB),
    ]
    edges = [["END", "PA2", "T2", "PA1", "T1", "START"], ["END", "T3", "PB", "PA1"]]
    assert dag.run(nodes, edges) == dag.expect(PL="PA2", TOPIC="T2")


@pytest.mark.parametrize("version", V2_ROOMS, ids=lambda v: f"v{v.id}")
def test_dag_topic_reset(version: RoomVersion) -> None:
    """Bob's topic T2 comes after alice made him a moderator; alice then bans him. The other
    branch only has T1. T1's power levels (IPOWER) are further down the mainline than T2's
    (PA), so T1 goes first and T2 then fails: bob is banned. The topic resets to T1."""
    dag = Dag(version)
    nodes = [
        TOPIC("T1", ALICE),
        PL("PA", ALICE, {ALICE: 100, BOB: 50}),
        TOPIC("T2", BOB),
        MEMBER("MB", ALICE, BOB, "ban"),
    ]
    edges = [["END", "MB", "T2", "PA", "T1", "START"], ["END", "T1"]]
    assert dag.run(nodes, edges) == dag.expect(PL="PA", TOPIC="T1", BOB="MB")


@pytest.mark.parametrize("version", V2_ROOMS, ids=lambda v: f"v{v.id}")
def test_dag_join_rules_vs_join(version: RoomVersion) -> None:
    """Alice makes the room invite-only while ella joins it as public. The join rules are a
    power event and go first; ella's join then fails, so she is not in the room."""
    dag = Dag(version)
    nodes = [JR("JR", ALICE, "invite"), MEMBER("ME", ELLA, ELLA, "join")]
    edges = [["END", "JR", "START"], ["END", "ME", "START"]]
    assert dag.run(nodes, edges) == dag.expect(JR="JR", ELLA=None)


@pytest.mark.parametrize("version", V2_ROOMS, ids=lambda v: f"v{v.id}")
def test_dag_offtopic_power_levels(version: RoomVersion) -> None:
    """A line of power level changes PA → PB (bob) → PC (charlie lowers himself) against a
    branch that stayed at PA: all three apply in auth order and PC wins."""
    dag = Dag(version)
    nodes = [
        PL("PA", ALICE, {ALICE: 100, BOB: 50}),
        PL("PB", BOB, {ALICE: 100, BOB: 50, CHARLIE: 50}),
        PL("PC", CHARLIE, {ALICE: 100, BOB: 50, CHARLIE: 0}),
    ]
    edges = [["END", "PC", "PB", "PA", "START"], ["END", "PA"]]
    assert dag.run(nodes, edges) == dag.expect(PL="PC")


@pytest.mark.parametrize("version", V2_ROOMS, ids=lambda v: f"v{v.id}")
def test_dag_kicked_user_rejoins(version: RoomVersion) -> None:
    """Bob sets a topic (T) while, concurrently, alice kicks him (K) and he rejoins (RJ).
    The kick is a power event, applied first. T and RJ share a mainline position; T is older,
    so it is checked while bob is kicked and fails; his rejoin (public room) then passes.
    (PT lets anyone set the topic, so only bob's membership decides.)"""
    dag = Dag(version)
    nodes = [
        PL("PT", ALICE, {ALICE: 100}, events={"m.room.topic": 0}),
        TOPIC("T", BOB),
        MEMBER("K", ALICE, BOB, "leave"),
        MEMBER("RJ", BOB, BOB, "join"),
    ]
    edges = [["END", "T", "PT", "START"], ["END", "RJ", "K", "PT"]]
    assert dag.run(nodes, edges) == dag.expect(PL="PT", BOB="RJ", TOPIC=None)


@pytest.mark.parametrize("version", V2_ROOMS, ids=lambda v: f"v{v.id}")
def test_dag_kicked_user_rejoins_then_topic(version: RoomVersion) -> None:
    """As above, but bob's topic is newer than his rejoin: checked after RJ, it passes."""
    dag = Dag(version)
    nodes = [
        PL("PT", ALICE, {ALICE: 100}, events={"m.room.topic": 0}),
        MEMBER("K", ALICE, BOB, "leave"),
        MEMBER("RJ", BOB, BOB, "join"),
        TOPIC("T", BOB),
    ]
    edges = [["END", "T", "PT", "START"], ["END", "RJ", "K", "PT"]]
    assert dag.run(nodes, edges) == dag.expect(PL="PT", BOB="RJ", TOPIC="T")


@pytest.mark.parametrize("version", V2_ROOMS, ids=lambda v: f"v{v.id}")
def test_dag_demoted_admin(version: RoomVersion) -> None:
    """Alice (100) made bob an admin at 75. She demotes him to 0 (PD) while he, concurrently,
    promotes charlie (PB) and sets a topic needing 50 (T). PD sorts before PB (100 > 75), so
    PB fails against PD; T then fails too (bob is at 0)."""
    dag = Dag(version)
    nodes = [
        PL("PA", ALICE, {ALICE: 100, BOB: 75}, state_default=50),
        PL("PD", ALICE, {ALICE: 100, BOB: 0}, state_default=50),
        PL("PB", BOB, {ALICE: 100, BOB: 75, CHARLIE: 75}, state_default=50),
        TOPIC("T", BOB),
    ]
    edges = [["END", "PD", "PA", "START"], ["END", "T", "PB", "PA"]]
    assert dag.run(nodes, edges) == dag.expect(PL="PD", TOPIC=None)


@pytest.mark.parametrize("version", V2_ROOMS, ids=lambda v: f"v{v.id}")
def test_dag_concurrent_joins(version: RoomVersion) -> None:
    """Ella and zara join a public room concurrently: different keys, both pass."""
    dag = Dag(version)
    nodes = [MEMBER("ME", ELLA, ELLA, "join"), MEMBER("MZ", ZARA, ZARA, "join")]
    edges = [["END", "ME", "START"], ["END", "MZ", "START"]]
    assert dag.run(nodes, edges) == dag.expect(ELLA="ME", ZARA="MZ")


@pytest.mark.parametrize("version", V2_ROOMS, ids=lambda v: f"v{v.id}")
def test_dag_ban_beats_concurrent_rejoin_attempt(version: RoomVersion) -> None:
    """Bob leaves (ML), then rejoins (MJ), while alice concurrently bans him (MB). The ban is
    a power event, applied in step 2; the rejoin then fails against it."""
    dag = Dag(version)
    nodes = [
        MEMBER("ML", BOB, BOB, "leave"),
        MEMBER("MJ", BOB, BOB, "join"),
        MEMBER("MB", ALICE, BOB, "ban"),
    ]
    edges = [["END", "MJ", "ML", "START"], ["END", "MB", "START"]]
    assert dag.run(nodes, edges) == dag.expect(BOB="MB")


def test_dag_v12_creator_demotes_admin_at_100() -> None:
    """Room v12: alice is a creator (infinite power, not in `users`), so she can demote bob
    even at 100. Her PD sorts before bob's PB, which then fails; so does his topic."""
    dag = Dag(V12)
    nodes = [
        PL("PA", ALICE, {BOB: 100}),
        PL("PD", ALICE, {BOB: 0}),
        PL("PB", BOB, {BOB: 100, CHARLIE: 100}),
        TOPIC("T", BOB),
    ]
    edges = [["END", "PD", "PA", "START"], ["END", "T", "PB", "PA"]]
    assert dag.run(nodes, edges) == dag.expect(PL="PD", TOPIC=None)


def test_dag_v12_ban_vs_power_levels() -> None:
    """The ban-vs-power-levels DAG in room v12 (iterative checks from an empty state)."""
    dag = Dag(V12)
    nodes = [
        PL("PA", ALICE, {BOB: 50}),
        MEMBER("MA", ALICE, ALICE, "join"),
        MEMBER("MB", ALICE, BOB, "ban"),
        PL("PB", BOB, {BOB: 50}),
    ]
    edges = [["END", "MB", "MA", "PA", "START"], ["END", "PB", "PA"]]
    assert dag.run(nodes, edges) == dag.expect(PL="PA", ALICE="MA", BOB="MB")


def test_dag_v12_join_rules_vs_join_and_topic_race() -> None:
    """Room v12: the invite-only join rules beat ella's concurrent join; of alice's two topics
    (same mainline position), the newer T2 wins."""
    dag = Dag(V12)
    nodes = [
        JR("JR", ALICE, "invite"),
        MEMBER("ME", ELLA, ELLA, "join"),
        TOPIC("T1", ALICE),
        TOPIC("T2", ALICE),
    ]
    edges = [["END", "T2", "JR", "START"], ["END", "T1", "ME", "START"]]
    assert dag.run(nodes, edges) == dag.expect(JR="JR", ELLA=None, TOPIC="T2")


# --- room v1 ------------------------------------------------------------------------------


def test_v1_topic_conflict_highest_depth_wins() -> None:
    """v1: other conflicts pick the event with the highest depth that passes auth. T2 is
    deeper (it follows T1b on its branch), so it wins though it is older."""
    dag = Dag(V1)
    nodes = [TOPIC("T1a", ALICE), TOPIC("T2", ALICE), TOPIC("T1b", ALICE)]
    edges = [["END", "T2", "T1a", "START"], ["END", "T1b", "START"]]
    assert dag.run(nodes, edges) == dag.expect(TOPIC="T2")


def test_v1_power_levels_conflict_takes_the_last_that_passes() -> None:
    """v1: conflicting power levels go in ascending depth; each next one applies if it passes
    auth in R. END cites PB and IMC, so IPOWER (depth 3) and PB (depth 8) conflict: IPOWER
    first, then alice's PB passes."""
    dag = Dag(V1)
    nodes = [
        PL("PA", ALICE, {ALICE: 100, BOB: 50}),
        PL("PB", ALICE, {ALICE: 100, BOB: 50, CHARLIE: 10}),
    ]
    edges = [["END", "PB", "PA", "START"], ["END", "START"]]
    assert dag.run(nodes, edges) == dag.expect(PL="PB")


def test_v1_power_levels_reset() -> None:
    """The v1 bug the spec warns of: bob's PB was fine after PA made him a moderator, but PA
    is not in either state, so PB is checked against IPOWER (bob at 0), fails, and the power
    levels reset to IPOWER."""
    dag = Dag(V1)
    nodes = [
        PL("PA", ALICE, {ALICE: 100, BOB: 50}),
        PL("PB", BOB, {ALICE: 100, BOB: 50, CHARLIE: 10}),
    ]
    edges = [["END", "PB", "PA", "START"], ["END", "START"]]
    assert dag.run(nodes, edges) == dag.expect(PL="IPOWER")


def test_v1_unauthorised_power_levels_stop_the_chain() -> None:
    """v1: charlie (0) cannot change power levels: after IPOWER is taken first, his PC fails
    and the pass stops there."""
    dag = Dag(V1)
    nodes = [PL("PC", CHARLIE, {ALICE: 100, CHARLIE: 100})]
    edges = [["END", "PC", "START"], ["END", "START"]]
    assert dag.run(nodes, edges) == dag.expect(PL="IPOWER")


# --- building blocks ----------------------------------------------------------------------


def _event(
    version: RoomVersion, event_id: str, event_type: str, sender: str = ALICE, *,
    state_key: str | None = "", content: dict | None = None, auth: Sequence[str] = (),
    ts: int = 0,
) -> Pdu:
    data: dict[str, Any] = {
        "type": event_type, "sender": sender, "content": content or {},
        "auth_events": list(auth), "prev_events": [], "origin_server_ts": ts,
        "room_id": "!room:example.com",
    }
    if state_key is not None:
        data["state_key"] = state_key
    return Pdu(event_id, version, data)


def test_auth_chain_follows_auth_events_only() -> None:
    events = {
        "$a": _event(V10, "$a", "m.room.create"),
        "$b": _event(V10, "$b", "m.room.member", state_key=ALICE, auth=["$a"]),
        "$c": _event(V10, "$c", "m.room.power_levels", auth=["$a", "$b"]),
        "$d": _event(V10, "$d", "m.room.topic", auth=["$c", "$b", "$a"]),
    }
    assert auth_chain(["$d"], events.get) == {"$a", "$b", "$c"}
    assert auth_chain(["$d", "$c"], events.get) == {"$a", "$b", "$c"}
    assert auth_chain(["$a"], events.get) == set()
    assert auth_chain(["$x"], events.get) == set()


def test_auth_difference_is_union_minus_intersection() -> None:
    assert _auth_difference([{"a", "b", "c"}, {"b", "c", "d"}, {"c", "e"}]) == {"a", "b", "d", "e"}
    assert _auth_difference([{"a"}, {"a"}]) == set()


def test_conflicted_subgraph_holds_paths_between_conflicted_events() -> None:
    """x → m → y, with x and y conflicted: m is on the path. z hangs below y only; w is
    reachable from x but leads to no conflicted event; u cites x but is not reachable from
    a conflicted event."""
    e = lambda i, auth: _event(V12, i, "m.room.topic", auth=auth)  # noqa: E731
    events = {p.event_id: p for p in [
        e("z", []), e("y", ["z"]), e("w", []), e("m", ["y"]), e("x", ["m", "w"]), e("u", ["x"]),
    ]}
    assert _conflicted_subgraph({"x", "y"}, _Events(events.get)) == {"x", "m", "y"}
    assert _conflicted_subgraph({"x"}, _Events(events.get)) == set()
    assert _conflicted_subgraph({"u", "y", "w"}, _Events(events.get)) == {"u", "x", "m", "y", "w"}


def test_reverse_topological_power_order_tie_breaks() -> None:
    """Auth order first; then higher sender power; then older; then smaller event ID."""
    create = _event(V10, "$create", "m.room.create", content={"creator": ALICE})
    pl = _event(
        V10, "$pl", "m.room.power_levels", content={"users": {ALICE: 100, BOB: 50}},
        auth=["$create"],
    )
    evs = {p.event_id: p for p in [
        create, pl,
        _event(V10, "$bob_early", "m.room.topic", BOB, auth=["$create", "$pl"], ts=1),
        _event(V10, "$alice_late", "m.room.topic", ALICE, auth=["$create", "$pl"], ts=9),
        _event(V10, "$b_same", "m.room.name", BOB, auth=["$create", "$pl"], ts=1),
        _event(V10, "$after", "m.room.topic", CHARLIE, auth=["$create", "$pl", "$bob_early"], ts=0),
    ]}
    graph = {
        "$pl": [],
        "$bob_early": ["$pl"], "$alice_late": ["$pl"], "$b_same": ["$pl"], "$after": ["$bob_early"],
    }
    order = _reverse_topological_power_order(graph, _Events(evs.get), create)
    assert order == ["$pl", "$alice_late", "$b_same", "$bob_early", "$after"]


def test_mainline_order() -> None:
    """Mainline of P2: [P2, P1, P0]. Events citing P0 (position 2) come before those citing
    P1; an event citing an off-mainline Px whose own power levels are P1 sits at P1's
    position; an event citing no power levels comes first of all."""
    c = _event(V10, "$c", "m.room.create", content={"creator": ALICE})
    p0 = _event(V10, "$p0", "m.room.power_levels", auth=["$c"])
    p1 = _event(V10, "$p1", "m.room.power_levels", auth=["$c", "$p0"])
    p2 = _event(V10, "$p2", "m.room.power_levels", auth=["$c", "$p1"])
    px = _event(V10, "$px", "m.room.power_levels", auth=["$c", "$p1"])
    evs = {p.event_id: p for p in [
        c, p0, p1, p2, px,
        _event(V10, "$on_p1_old", "m.room.topic", auth=["$c", "$p1"], ts=1),
        _event(V10, "$on_px", "m.room.topic", auth=["$c", "$px"], ts=2),
        _event(V10, "$on_p0", "m.room.topic", auth=["$c", "$p0"], ts=50),
        _event(V10, "$on_p2", "m.room.topic", auth=["$c", "$p2"], ts=0),
        _event(V10, "$none", "m.room.topic", auth=["$c"], ts=99),
        _event(V10, "$on_p1_b", "m.room.topic", auth=["$c", "$p1"], ts=2),
    ]}
    ids = ["$on_p2", "$on_p1_b", "$on_px", "$none", "$on_p0", "$on_p1_old"]
    assert _mainline_order(ids, "$p2", _Events(evs.get)) == [
        "$none", "$on_p0", "$on_p1_old", "$on_p1_b", "$on_px", "$on_p2",
    ]
    assert _mainline_order(ids, None, _Events(evs.get)) == [
        "$on_p2", "$on_p1_old", "$on_p1_b", "$on_px", "$on_p0", "$none",
    ]


def test_iterative_auth_checks_skip_rejected_auth_events() -> None:
    """A key missing from the state is taken from the event's auth events unless that auth
    event was rejected: ella's join cites public join rules; rejected, they do not count and
    the join fails (no join rule allows it)."""
    dag = Dag(V10)
    ids = {n: dag.id(n) for n in ("CREATE", "IPOWER", "IJR", "IMA")}
    state = {("m.room.create", ""): ids["CREATE"], ("m.room.power_levels", ""): ids["IPOWER"],
             ("m.room.member", ALICE): ids["IMA"]}
    join = Pdu("$me", V10, {
        "type": "m.room.member", "sender": ELLA, "state_key": ELLA,
        "content": {"membership": "join"}, "room_id": dag.room_id,
        "auth_events": [ids["CREATE"], ids["IPOWER"], ids["IJR"]], "prev_events": [],
    })
    for rejected, expected in ((False, "$me"), (True, None)):
        events = dict(dag.events)
        jr = events[ids["IJR"]]
        events[jr.event_id] = Pdu(jr.event_id, jr.room_version, jr.data, rejected=rejected)
        events["$me"] = join
        out = _iterative_auth_checks(V10, ["$me"], dict(state), _Events(events.get), None)
        assert out.get(("m.room.member", ELLA)) == expected


def test_no_conflict_returns_the_shared_state() -> None:
    state = {("m.room.create", ""): "$c", ("m.room.topic", ""): "$t"}
    assert resolve(V10, [state, dict(state)], [set(), set()], lambda _: None) == state
    assert resolve(V10, [state], [set()], lambda _: None) == state
    assert resolve(V10, [], [], lambda _: None) == {}


def test_large_room_resolves_quickly() -> None:
    """3000 members, each with a join and a later display name change: one branch has every
    change, the other every join plus a new power levels event. Checks linear-ish cost."""
    dag = Dag(V10)
    n = 3000
    events = dict(dag.events)
    state0 = {k: dag.id(v) for k, v in dag.initial_state.items()}
    create, ipower, ijr = dag.id("CREATE"), dag.id("IPOWER"), dag.id("IJR")
    branch_a, branch_b = dict(state0), dict(state0)
    for i in range(n):
        user = f"@u{i}:example.com"
        member = {"type": "m.room.member", "sender": user, "state_key": user,
                  "room_id": dag.room_id, "prev_events": []}
        join = Pdu(f"$j{i}", V10, {
            **member, "content": {"membership": "join"},
            "auth_events": [create, ipower, ijr], "origin_server_ts": 100 + i,
        })
        rename = Pdu(f"$r{i}", V10, {
            **member, "content": {"membership": "join", "displayname": f"u{i}"},
            "auth_events": [create, ipower, ijr, f"$j{i}"], "origin_server_ts": 10_000 + i,
        })
        events[join.event_id] = join
        events[rename.event_id] = rename
        branch_a[join.state_tuple] = rename.event_id
        branch_b[join.state_tuple] = join.event_id
    pl = Pdu("$pl2", V10, {"type": "m.room.power_levels", "sender": ALICE, "state_key": "",
                           "content": {"users": {ALICE: 100, BOB: 50}}, "room_id": dag.room_id,
                           "auth_events": [create, ipower, dag.id("IMA")], "prev_events": [],
                           "origin_server_ts": 50_000})
    events[pl.event_id] = pl
    branch_b[pl.state_tuple] = pl.event_id
    started = time.perf_counter()
    result = _resolve(V10, [branch_a, branch_b], events)
    elapsed = time.perf_counter() - started
    expected = dict(branch_a)
    expected[pl.state_tuple] = pl.event_id
    assert result == expected
    assert elapsed < 10, f"took {elapsed:.1f}s"
