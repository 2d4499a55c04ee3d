"""Receiving PDUs from other servers (server-server-api.md "Checks performed on receipt of a
PDU"): the I/O around the pure checks of protocol/pdu_checks.

For each PDU: its room must be one we are in (we hold its version); the keys of the servers
that must sign it are fetched first (the key ring), so the checks themselves stay pure. Its
prev_events are looked for; missing ones are asked of the sending server with
`get_missing_events` (a bounded gap), and what cannot be filled that way is filled from the
state at the missing events (`state_ids`, then the events not known yet), as the spec allows.
Auth events not known are fetched (`event_auth`) and stored as outliers after their own format
and signature checks. Then the verdict: accepted events go through the pipeline's
`persist_remote` (the same persist as local events), rejected ones are kept as rejected,
soft-failed ones are kept outside the timeline.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ...protocol.auth_rules import auth_types_for_event, servers_required_to_sign
from ...protocol.events import Pdu, StateKey
from ...protocol.federation_peers import server_acl_allows
from ...protocol.pdu_checks import Outcome, PduDropped, check_format, check_pdu, check_signatures
from ...protocol.room_versions import RoomVersion
from ...protocol.signing import SignatureError
from ...storage.stores.events import EventStore
from ...storage.stores.state import StateMap, StateStore
from ..pipeline import EventPipeline
from .keyring import KeyRing

log = logging.getLogger(__name__)

MAX_MISSING = 20  # events asked for at once when a gap opens (get_missing_events' limit)
MAX_FETCH = 500   # state and auth events fetched to fill a gap that get_missing_events did not

# (method, destination, path, query, body) -> (status, JSON body): the outbound client.
Request = Callable[..., Awaitable[tuple[int, Any]]]


@dataclass(frozen=True, slots=True)
class Received:
    event_id: str
    error: str | None = None  # for the /send answer's `pdus` map


class PduReceiver:
    def __init__(self, server_name: str, events: EventStore, state: StateStore, pipeline: EventPipeline,
                 keyring: KeyRing, request: Request) -> None:
        self.server_name = server_name
        self.events = events
        self.state = state
        self.pipeline = pipeline
        self.keyring = keyring
        self.request = request

    # -- checks that need keys ---------------------------------------------------------------

    async def _key_lookup(self, pdu: Pdu) -> Callable[[str, str, int], bytes | None]:
        """Fetch the keys the PDU's required signers used, then answer the pure lookup."""
        have: dict[tuple[str, str], bytes | None] = {}
        signatures = pdu.data.get("signatures")
        for server in servers_required_to_sign(pdu):
            by_server = signatures.get(server) if isinstance(signatures, dict) else None
            for key_id in by_server if isinstance(by_server, dict) else ():
                if not isinstance(key_id, str) or not key_id.startswith("ed25519:"):
                    continue
                try:
                    # Valid now is what we can check: keys' valid_until_ts is only a floor
                    # for old events (spec "Validity of keys": kept, still verifying).
                    have[(server, key_id)] = await self.keyring.verify_key(server, key_id)
                except SignatureError as e:
                    log.info("no key %s of %s: %s", key_id, server, e)
                    have[(server, key_id)] = None
        return lambda server, key_id, ts: have.get((server, key_id))

    async def checked_outlier(self, raw: Any, version: RoomVersion) -> Pdu:
        """Format, signatures and content hash of an event fetched to fill in state or an auth
        chain (not auth-checked against state: it is history, not a new event). PduDropped."""
        from ...protocol.hashes import check_content_hash
        from ...protocol.redaction import redact

        pdu = check_format(raw, version)
        check_signatures(pdu, await self._key_lookup(pdu))
        if not check_content_hash(pdu.data):
            pdu = Pdu(pdu.event_id, version, redact(pdu.data, version))
        return pdu

    # -- receiving ---------------------------------------------------------------------------

    async def receive(self, origin: str, raw: Any, *, fill_gaps: bool = True) -> Received:
        """One PDU of a transaction (or a send_join's event, a backfilled one): never raises
        for what the PDU is; the error is reported per event as /send answers."""
        room_id = raw.get("room_id") if isinstance(raw, dict) else None
        if not isinstance(room_id, str):
            return Received("", "PDU has no room_id")
        version = await self.events.room_version(room_id)
        if version is None:
            return Received(str(raw.get("event_id", "")), f"We are not in room {room_id}")
        try:
            pdu = check_format(raw, version)
        except PduDropped as e:
            return Received(str(raw.get("event_id", "")), str(e))
        if await self.events.get_event(pdu.event_id) is not None:
            return Received(pdu.event_id)  # seen before: a retried transaction
        acl = await self.events.current_state_event(room_id, "m.room.server_acl")
        if not server_acl_allows(acl.content if acl is not None else None, origin):
            return Received(pdu.event_id, f"{origin} is denied by the room's server ACL")
        try:
            return await self._receive(origin, pdu, fill_gaps)
        except PduDropped as e:
            log.info("PDU %s from %s dropped: %s", pdu.event_id, origin, e)
            return Received(pdu.event_id, str(e))

    async def _receive(self, origin: str, pdu: Pdu, fill_gaps: bool) -> Received:
        room_id, version = pdu.room_id, pdu.room_version
        keys = await self._key_lookup(pdu)
        check_signatures(pdu, keys)  # before anything is fetched on its behalf
        prevs = await self.events.get_events(pdu.prev_event_ids)
        missing = [p for p in pdu.prev_event_ids if p not in prevs]
        if missing and fill_gaps:
            await self._fill_gap(origin, pdu)
            prevs = await self.events.get_events(pdu.prev_event_ids)
            missing = [p for p in pdu.prev_event_ids if p not in prevs or prevs[p].state_group is None]
            if missing:
                await self._state_at_missing(origin, pdu, missing)
                prevs = await self.events.get_events(pdu.prev_event_ids)
        auth = await self._auth_events(origin, pdu)
        async with self.pipeline.room_lock(room_id):
            if await self.events.get_event(pdu.event_id) is not None:
                return Received(pdu.event_id)
            usable = [p for p in pdu.prev_event_ids if p in prevs and prevs[p].state_group is not None]
            if not usable:
                raise PduDropped("its prev_events are unknown here and could not be fetched")
            state_before, before_group = await self.pipeline.state_before(room_id, usable, version)
            current_ids = await self.events.current_state_ids(room_id)
            wanted = self._auth_keys(pdu)
            state_pdus = await self._pdus_for(state_before, wanted)
            current_pdus = await self._pdus_for(current_ids, wanted)
            create = state_pdus.get(("m.room.create", "")) or current_pdus.get(("m.room.create", ""))
            verdict = check_pdu(pdu.data, version, keys, auth, state_pdus, current_pdus, create_event=create)
            if verdict.outcome is Outcome.ACCEPTED:
                await self.pipeline.persist_remote(verdict.pdu, state_before, before_group)
                return Received(pdu.event_id)
            log.info("PDU %s from %s %s: %s", pdu.event_id, origin, verdict.outcome.value, verdict.reason)
            if verdict.outcome is Outcome.REJECTED:
                await self.pipeline.persist_unlive(verdict.pdu, rejected=verdict.reason or "rejected")
                return Received(pdu.event_id, verdict.reason)
            after = dict(state_before)
            if verdict.pdu.is_state:
                after[verdict.pdu.state_tuple] = verdict.pdu.event_id
            await self.pipeline.persist_unlive(verdict.pdu, outlier=True, state=after)  # soft-failed
            return Received(pdu.event_id)  # soft failure is not reported to the sender

    @staticmethod
    def _auth_keys(pdu: Pdu) -> set[StateKey]:
        keys = set(auth_types_for_event(pdu.room_version, pdu.type, pdu.state_key, pdu.sender, pdu.content))
        keys.add(("m.room.create", ""))
        if pdu.is_state:
            keys.add(pdu.state_tuple)
        return keys

    async def _pdus_for(self, state: StateMap, wanted: Iterable[StateKey]) -> dict[StateKey, Pdu]:
        ids = {k: state[k] for k in wanted if k in state}
        found = await self.events.get_events(ids.values())
        return {k: found[e].pdu for k, e in ids.items() if e in found and not found[e].rejected}

    async def _auth_events(self, origin: str, pdu: Pdu) -> list[Pdu]:
        """The PDU's auth events; those not known are fetched from `origin` (event_auth) and
        stored as outliers. PduDropped if some cannot be had."""
        ids = pdu.auth_event_ids
        found = await self.events.get_events(ids)
        if any(a not in found for a in ids):
            status, body = await self.request("GET", origin, f"/_matrix/federation/v1/event_auth/{pdu.room_id}/{pdu.event_id}")
            chain = body.get("auth_chain") if status == 200 and isinstance(body, dict) else None
            if isinstance(chain, list):
                await self._store_outliers(pdu.room_id, pdu.room_version, chain[:MAX_FETCH])
            found = await self.events.get_events(ids)
        if any(a not in found for a in ids):
            raise PduDropped("some of its auth events are unknown and could not be fetched")
        return [found[a].pdu for a in ids]

    async def _store_outliers(self, room_id: str, version: RoomVersion, raws: list[Any]) -> list[Pdu]:
        pdus = []
        for raw in raws:
            try:
                pdu = await self.checked_outlier(raw, version)
            except PduDropped as e:
                log.info("outlier dropped: %s", e)
                continue
            if pdu.room_id == room_id:
                pdus.append(pdu)
        await self.pipeline.persist_outliers(room_id, version, pdus)
        return pdus

    async def _fill_gap(self, origin: str, pdu: Pdu) -> None:
        """Ask `origin` for the events between our forward extremities and this PDU, and
        receive them oldest first (without opening further gaps)."""
        earliest = await self.events.forward_extremities(pdu.room_id)
        try:
            status, body = await self.request(
                "POST", origin, f"/_matrix/federation/v1/get_missing_events/{pdu.room_id}",
                content={"earliest_events": earliest, "latest_events": [pdu.event_id], "limit": MAX_MISSING,
                         "min_depth": 0})
        except Exception as e:  # unreachable: filled from state below, or dropped
            log.info("get_missing_events from %s failed: %s", origin, e)
            return
        events = body.get("events") if status == 200 and isinstance(body, dict) else None
        if not isinstance(events, list):
            return
        events = [e for e in events if isinstance(e, dict) and isinstance(e.get("depth"), int)]
        for raw in sorted(events, key=lambda e: e["depth"]):
            await self.receive(origin, raw, fill_gaps=False)

    async def _state_at_missing(self, origin: str, pdu: Pdu, missing: list[str]) -> None:
        """Prev events get_missing_events did not bring: the state after each, from `origin`
        (state_ids before it, plus the event itself), stored with the event as an outlier that
        has a state group, so the PDU can be checked against it."""
        room_id, version = pdu.room_id, pdu.room_version
        for prev_id in missing[:5]:
            try:
                status, body = await self.request("GET", origin, f"/_matrix/federation/v1/state_ids/{room_id}",
                                                  query={"event_id": prev_id})
            except Exception as e:
                log.info("state_ids from %s failed: %s", origin, e)
                continue
            if status != 200 or not isinstance(body, dict) or not isinstance(body.get("pdu_ids"), list):
                continue
            wanted = [e for e in (*body["pdu_ids"], *(body.get("auth_chain_ids") or []), prev_id)
                      if isinstance(e, str)][:MAX_FETCH]
            known = await self.events.get_events(wanted)
            fetched = [await self._fetch_event(origin, e) for e in wanted if e not in known]
            await self._store_outliers(room_id, version, [f for f in fetched if f is not None])
            have = await self.events.get_events(wanted)
            prev = have.get(prev_id)
            if prev is None:
                continue
            state: StateMap = {}
            for e in body["pdu_ids"]:
                ev = have.get(e)
                if isinstance(e, str) and ev is not None and ev.pdu.is_state and not ev.rejected:
                    state[ev.pdu.state_tuple] = e
            if prev.pdu.is_state:
                state[prev.pdu.state_tuple] = prev_id
            await self._give_state(prev_id, room_id, state)

    async def _give_state(self, event_id: str, room_id: str, state: StateMap) -> None:
        """An outlier gets the state after it (a state group), and may be built upon."""
        def job(conn: Any) -> None:
            group = self.state.store_group_job(conn, room_id, state, None, None)
            self.events.set_state_group_job(conn, event_id, group)

        await self.pipeline.db.write(job)
        self.events.invalidate(event_id)

    async def _fetch_event(self, origin: str, event_id: str) -> Any:
        try:
            status, body = await self.request("GET", origin, f"/_matrix/federation/v1/event/{event_id}")
        except Exception:
            return None
        pdus = body.get("pdus") if status == 200 and isinstance(body, dict) else None
        return pdus[0] if isinstance(pdus, list) and pdus else None
