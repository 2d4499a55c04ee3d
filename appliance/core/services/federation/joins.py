"""Joining, leaving and inviting across servers (server-server-api.md "Joining Rooms", "Leaving
Rooms (Rejecting Invites)", "Inviting to a room"), both ways.

Served: `make_join`/`make_leave` answer an unsigned template built on our forward extremities
and current state (refused with the auth rules' reason when the user may not); `send_join` v2
/ `send_leave` v2 take the signed event through the same checks as any PDU (PduReceiver), and
a join is answered with the state before it and its auth chain; `invite` v2 counter-signs an
invite for one of our users and keeps it (with its stripped state) until they answer.

Done by us: a local user joining a room we do not hold asks a resident server for a template,
signs it, sends it, and checks the answer before anything is kept: every state and auth-chain
event's format, signatures and hash, then the auth rules of each against its own auth events
(oldest first), the create event naming the room; the join is then persisted through the
pipeline with that state as the state before it. Leaving such a room before joining it
(rejecting a remote invite) is make_leave/send_leave; inviting a remote user sends the invite
to their server.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ...protocol import ids, room_versions
from ...protocol.auth_rules import AuthFailure, auth_types_for_event, check_auth
from ...protocol.errors import BadJson, Forbidden, InvalidParam, MatrixError, NotFound
from ...protocol.events import Pdu, StateKey
from ...protocol.pdu_checks import PduDropped, check_format
from ...protocol.room_versions import RoomVersion
from ...protocol.signing import SigningKey, hash_sign_and_encode_event, sign_event
from ...storage.stores.accounts import AccountStore
from ...storage.stores.events import EventStore
from ..pipeline import EventPipeline, _ref_hash
from .client import FederationRefused, FederationUnavailable
from .receiving import PduReceiver
from .room_reads import FederationRoomReads, wire

log = logging.getLogger(__name__)

SUPPORTED_VERSIONS = [v for v in room_versions.KNOWN]

Request = Callable[..., Awaitable[tuple[int, Any]]]


class IncompatibleRoomVersion(MatrixError):
    status = 400
    errcode = "M_INCOMPATIBLE_ROOM_VERSION"


class FederationJoins:
    def __init__(self, server_name: str, signing_key: SigningKey, events: EventStore, pipeline: EventPipeline,
                 accounts: AccountStore, receiver: PduReceiver, reads: FederationRoomReads, request: Request,
                 stream_keys: Callable[[int, list[str]], None]) -> None:
        self.server_name = server_name
        self.signing_key = signing_key
        self.events = events
        self.pipeline = pipeline
        self.accounts = accounts
        self.receiver = receiver
        self.reads = reads
        self.request = request
        self._advance = stream_keys

    # -- served ------------------------------------------------------------------------------

    async def make_membership(self, origin: str, room_id: str, user_id: str, membership: str,
                              versions: list[str] | None) -> dict[str, Any]:
        """make_join (membership "join", `ver` given) and make_leave: an unsigned template."""
        if not ids.is_valid_user_id(user_id) or ids.server_name_of(user_id) != origin:
            raise Forbidden(f"{origin} may only ask for its own users")
        version = await self.events.room_version(room_id)
        if version is None or await self.events.current_state_event_id(room_id, "m.room.create", "") is None:
            raise NotFound("Unknown room")
        if membership == "knock" and not version.auth.knocking:
            raise IncompatibleRoomVersion(f"Room version {version.id} does not support knocking",
                                          room_version=version.id)
        if versions is not None and version.id not in versions:
            raise IncompatibleRoomVersion(f"Room version {version.id} is not supported by {origin}",
                                          room_version=version.id)
        if not await self.reads.server_in_room(self.server_name, room_id):
            raise NotFound("We are no longer in this room")
        await self.reads.check_acl(origin, room_id)
        content: dict[str, Any] = {"membership": membership}
        async with self.pipeline.room_lock(room_id):
            prevs = (await self.pipeline.extremities_now(room_id))[-10:]
            prev_events = await self.events.get_events(prevs)
            state = await self.events.current_state_ids(room_id)
        if membership == "join":
            rules = await self.events.current_state_event(room_id, "m.room.join_rules")
            rule = rules.content.get("join_rule") if rules else None
            if rule in ("restricted", "knock_restricted") and version.auth.restricted_join:
                authoriser = await self._authoriser(room_id)
                if authoriser is not None:
                    content["join_authorised_via_users_server"] = authoriser
        keys = auth_types_for_event(version, "m.room.member", user_id, user_id, content)
        auth_ids = [state[k] for k in keys if k in state]
        auth_events = await self.events.get_events(auth_ids)
        event: dict[str, Any] = {
            "type": "m.room.member", "state_key": user_id, "sender": user_id, "room_id": room_id,
            "content": content, "origin": self.server_name, "origin_server_ts": int(time.time() * 1000),
            "depth": max((e.pdu.depth for e in prev_events.values()), default=0) + 1,
        }
        if version.event_format.prev_refs_with_hashes:
            event["prev_events"] = [[p, _ref_hash(prev_events[p].pdu)] for p in prevs if p in prev_events]
            event["auth_events"] = [[a, _ref_hash(auth_events[a].pdu)] for a in auth_ids if a in auth_events]
        else:
            event["prev_events"] = [p for p in prevs if p in prev_events]
            event["auth_events"] = [a for a in auth_ids if a in auth_events]
        # Would it be allowed now? Refuse early with the rule's reason (the spec's 403).
        probe = Pdu("$probe", version, event)
        auth_map = {k: auth_events[state[k]].pdu for k in keys if k in state and state[k] in auth_events}
        create = await self.events.current_state_event(room_id, "m.room.create")
        try:
            check_auth(probe, auth_map, create_event=create)
        except AuthFailure as e:
            raise Forbidden(f"You are not allowed to {membership} this room: {e}") from None
        return {"event": event, "room_version": version.id}

    async def _authoriser(self, room_id: str) -> str | None:
        from ...protocol.power_levels import get_named_level, get_user_power_level

        pl = await self.events.current_state_event(room_id, "m.room.power_levels")
        create = await self.events.current_state_event(room_id, "m.room.create")
        needed = get_named_level(pl, "invite")
        for member in await self.events.members(room_id, "join"):
            if ids.server_name_of(member) == self.server_name and get_user_power_level(member, pl, create) >= needed:
                return member
        return None

    async def send_membership(self, origin: str, room_id: str, event_id: str, raw: Any,
                              membership: str) -> dict[str, Any]:
        """send_join v2 / send_leave v2 (/send_knock is the same shape, not served yet)."""
        version = await self.events.room_version(room_id)
        if version is None:
            raise NotFound("Unknown room")
        try:
            pdu = check_format(raw, version)
        except PduDropped as e:
            raise BadJson(str(e)) from None
        if pdu.event_id != event_id or pdu.room_id != room_id:
            raise BadJson("The event's ID or room does not match the path")
        if pdu.type != "m.room.member" or pdu.membership != membership or pdu.state_key != pdu.sender:
            raise BadJson(f"Not a {membership} event of its sender")
        if ids.server_name_of(pdu.sender) != origin:
            raise Forbidden(f"{origin} may only send its own users' {membership}s")
        await self.reads.check_acl(origin, room_id)
        data = pdu.data
        authoriser = pdu.content.get("join_authorised_via_users_server")
        if membership == "join" and isinstance(authoriser, str) and ids.server_name_of(authoriser) == self.server_name:
            data = sign_event(data, self.server_name, self.signing_key, version)  # our part of a restricted join
        existing = await self.events.get_event(event_id)
        if existing is None:
            got = await self.receiver.receive(origin, data, fill_gaps=False)
            if got.error is not None:
                raise Forbidden(f"The {membership} was refused: {got.error}")
            existing = await self.events.get_event(event_id)
        if existing is None or existing.rejected:
            raise Forbidden(f"The {membership} was refused: {existing.rejected if existing else 'not stored'}")
        if membership == "knock":
            return {"knock_room_state": await self._stripped(room_id)}
        if membership != "join":
            return {}
        state = await self.reads._state_at(room_id, event_id)
        found = await self.events.get_events(state.values())
        chain = await self.reads.auth_chain([*state.values(), event_id])
        return {"origin": self.server_name, "members_omitted": False, "servers_in_room": await self._servers(room_id),
                "state": [wire(found[e]) for e in state.values() if e in found],
                "auth_chain": [wire(e) for e in chain if e.event_id not in state.values()],
                "event": data}

    async def _servers(self, room_id: str) -> list[str]:
        return sorted({ids.server_name_of(m) for m in await self.events.members(room_id, "join")})

    async def receive_invite(self, origin: str, room_id: str, event_id: str, body: Any) -> dict[str, Any]:
        """invite v2: one of our users is invited to a room (usually one we do not hold)."""
        if not isinstance(body, dict) or not isinstance(body.get("event"), dict):
            raise BadJson("The body must hold the invite event")
        version = room_versions.get(body.get("room_version")) if isinstance(body.get("room_version"), str) else None
        if version is None:
            raise IncompatibleRoomVersion("Unsupported room version", room_version=body.get("room_version"))
        try:
            pdu = check_format(body["event"], version)
        except PduDropped as e:
            raise BadJson(str(e)) from None
        if pdu.event_id != event_id or pdu.room_id != room_id:
            raise BadJson("The event's ID or room does not match the path")
        if pdu.type != "m.room.member" or pdu.membership != "invite" or not pdu.state_key:
            raise BadJson("Not an invite")
        if ids.server_name_of(pdu.sender) != origin:
            raise Forbidden("The invite's sender is not from the requesting server")
        if not ids.is_valid_user_id(pdu.state_key) or ids.server_name_of(pdu.state_key) != self.server_name \
                or not await self.accounts.user_exists(pdu.state_key):
            raise NotFound(f"No user {pdu.state_key} here")
        try:
            pdu = await self.receiver.checked_outlier(pdu.data, version)  # signed by the inviter's server
        except PduDropped as e:
            raise Forbidden(f"The invite is not properly signed: {e}") from None
        known = await self.events.room_version(room_id)
        if known is not None and known.id != version.id:
            raise BadJson("The room version does not match the room's")
        if known is not None and await self.reads.server_in_room(self.server_name, room_id):
            await self.reads.check_acl(origin, room_id)
            membership = await self.events.membership(room_id, pdu.state_key)
            if membership == "ban":
                raise Forbidden("That user is banned from the room")
        signed = sign_event(pdu.data, self.server_name, self.signing_key, version)
        stripped = body.get("invite_room_state")
        kept = dict(signed)
        unsigned = dict(kept.get("unsigned") or {}) if isinstance(kept.get("unsigned"), dict) else {}
        if isinstance(stripped, list):
            unsigned["invite_room_state"] = [e for e in stripped if isinstance(e, dict)][:50]
        kept["unsigned"] = unsigned
        await self._keep_membership(Pdu(pdu.event_id, version, kept))
        return {"event": signed}

    async def _keep_membership(self, pdu: Pdu) -> None:
        """An invite (or our own knock) on a room held elsewhere, as an outlier, and the user's
        membership: their /sync shows it."""
        from ...protocol.canonical_json import encode_canonical_json

        text = encode_canonical_json(pdu.data).decode()
        invitee = pdu.state_key
        assert invitee is not None
        events, stream = self.events, self.pipeline.stream

        def job(conn: Any) -> int:
            if events.has_event_job(conn, pdu.event_id):
                return 0
            pos = stream.allocate(conn)
            events.insert_room_job(conn, pdu.room_id, pdu.room_version.id, pdu.sender, pdu.origin_server_ts)
            events.insert_event_job(conn, pdu, pos, None, text, None, outlier=True)
            if events.membership_of_job(conn, invitee, pdu.room_id) != "join":
                events.set_membership_job(conn, invitee, pdu.room_id, pdu.membership or "invite", pdu.event_id, pos)
            return pos

        pos = await self.pipeline.db.write(job)
        events.remember_room_version(pdu.room_id, pdu.room_version)
        if pos:
            self._advance(pos, [invitee, pdu.room_id])

    # -- done by us --------------------------------------------------------------------------

    async def holds_room(self, room_id: str) -> bool:
        """Whether we hold the room's state (one of our users is in it): otherwise a join or a
        leave goes through a resident server."""
        if await self.events.room_version(room_id) is None:
            return False
        return await self.reads.server_in_room(self.server_name, room_id, ("join",))

    async def local_membership(self, room_id: str, user_id: str) -> str | None:
        found = await self.events.membership_event(user_id, room_id)
        return found[0] if found else None

    async def _ask(self, server: str, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        try:
            return await self.request(method, server, path, **kwargs)
        except FederationRefused as e:
            raise Forbidden(str(e)) from None
        except FederationUnavailable as e:
            raise MatrixError(f"{server} could not be reached: {e}", status=502, errcode="M_UNKNOWN") from None

    async def _candidates(self, room_id: str, via: list[str]) -> list[str]:
        out = [s for s in via if s != self.server_name]
        invite_sender = await self._invite_sender_server(room_id)
        if invite_sender:
            out.append(invite_sender)
        try:
            out.append(ids.server_name_of(room_id))
        except ValueError:
            pass
        seen: set[str] = set()
        return [s for s in out if s != self.server_name and not (s in seen or seen.add(s))]

    async def _invite_sender_server(self, room_id: str) -> str | None:
        for sender in await self.events.invite_senders(room_id):
            try:
                return ids.server_name_of(sender)
            except ValueError:
                continue
        return None

    async def join(self, user_id: str, room_id: str, via: list[str], content: dict[str, Any]) -> str:
        """A local user joins a room held elsewhere; returns the room ID once the join is kept."""
        errors = []
        for server in await self._candidates(room_id, via):
            try:
                return await self._join_via(server, user_id, room_id, content)
            except (MatrixError, PduDropped) as e:
                log.info("joining %s through %s failed: %s", room_id, server, e)
                errors.append(f"{server}: {getattr(e, 'error', e)}")
        raise MatrixError("No server could let you join: " + ("; ".join(errors) or "no server to ask"),
                          status=404 if not errors else 403, errcode="M_NOT_FOUND" if not errors else "M_FORBIDDEN")

    async def _make(self, server: str, room_id: str, user_id: str, membership: str) -> tuple[RoomVersion, dict]:
        query = {"ver": list(SUPPORTED_VERSIONS)} if membership in ("join", "knock") else None
        status, body = await self._ask(server, "GET", f"/_matrix/federation/v1/make_{membership}/{room_id}/{user_id}",
                                       query=query)
        if status != 200 or not isinstance(body, dict) or not isinstance(body.get("event"), dict):
            error = body.get("error") if isinstance(body, dict) else None
            raise Forbidden(f"make_{membership} answered {status}: {error or body!r}")
        version = room_versions.get(body.get("room_version") or "1")
        if version is None:
            raise IncompatibleRoomVersion(f"Room version {body.get('room_version')} is not supported here")
        return version, body["event"]

    def _sign(self, template: dict[str, Any], version: RoomVersion, user_id: str, membership: str,
              content: dict[str, Any]) -> Pdu:
        if template.get("type") != "m.room.member" or template.get("state_key") != user_id \
                or template.get("sender") != user_id:
            raise Forbidden("The resident server's template is not our user's membership")
        data = {k: v for k, v in template.items() if k not in ("hashes", "signatures", "unsigned", "event_id")}
        merged = {**content, **{k: v for k, v in (template.get("content") or {}).items()
                                if k in ("join_authorised_via_users_server",)}}
        data["content"] = {**merged, "membership": membership}
        data["origin"] = self.server_name
        data["origin_server_ts"] = int(time.time() * 1000)
        if version.event_format.event_id_in_event:
            data["event_id"] = ids.make_v1_event_id(self.server_name)
        signed, _encoded, hashed_id = hash_sign_and_encode_event(data, self.server_name, self.signing_key, version)
        return Pdu(signed["event_id"] if hashed_id is None else hashed_id, version, signed)

    async def _join_via(self, server: str, user_id: str, room_id: str, content: dict[str, Any]) -> str:
        version, template = await self._make(server, room_id, user_id, "join")
        pdu = self._sign(template, version, user_id, "join", content)
        status, body = await self._ask(server, "PUT", f"/_matrix/federation/v2/send_join/{room_id}/{pdu.event_id}",
                                       content=pdu.data)
        if status != 200 or not isinstance(body, dict):
            error = body.get("error") if isinstance(body, dict) else None
            raise Forbidden(f"send_join answered {status}: {error or body!r}")
        if isinstance(body.get("event"), dict):  # the resident's signature added (restricted joins)
            returned = body["event"]
            check = Pdu(pdu.event_id, version, returned)
            try:
                if check_format(returned, version).event_id == pdu.event_id:
                    pdu = check
            except PduDropped:
                pass
        state_raw = body.get("state") if isinstance(body.get("state"), list) else []
        chain_raw = body.get("auth_chain") if isinstance(body.get("auth_chain"), list) else []
        state = await self._checked_state(room_id, version, state_raw, chain_raw)
        async with self.pipeline.room_lock(room_id):
            if await self.reads.server_in_room(self.server_name, room_id, ("join",)) and \
                    await self.events.membership(room_id, user_id) == "join":
                return room_id
            state_pdus = {k: v for k, v in state.items()}
            create = state_pdus.get(("m.room.create", ""))
            try:
                check_auth(pdu, state_pdus, create_event=create)
            except AuthFailure as e:
                raise Forbidden(f"Our join does not pass the room's auth rules: {e}") from None
            await self.pipeline.persist_remote(pdu, {k: v.event_id for k, v in state.items()}, None)
        return room_id

    async def _checked_state(self, room_id: str, version: RoomVersion, state_raw: list, chain_raw: list,
                             ) -> dict[StateKey, Pdu]:
        """The send_join answer, checked: every event well-formed and signed (hash mismatches
        redacted), each passing the auth rules against its own auth events (oldest first); the
        create event must be the room's. Stored as outliers; returns the room state it gives."""
        by_id: dict[str, Pdu] = {}
        in_state: set[str] = set()
        for n, raw in enumerate([*state_raw, *chain_raw][:20_000]):
            try:
                pdu = await self.receiver.checked_outlier(raw, version)
            except PduDropped as e:
                log.info("send_join answer: event dropped: %s", e)
                continue
            if pdu.room_id == room_id:
                by_id[pdu.event_id] = pdu
                if n < len(state_raw):
                    in_state.add(pdu.event_id)
        accepted: dict[str, Pdu] = {}
        create_pdu = next((p for p in by_id.values() if p.type == "m.room.create" and p.state_key == ""), None)
        if create_pdu is None or create_pdu.room_id != room_id:
            raise Forbidden("The resident server's answer holds no create event for this room")
        if version.event_format.room_id_is_create_hash and ids.room_id_for_create_event(create_pdu.event_id) != room_id:
            raise Forbidden("The create event does not match the room ID")
        for pdu in sorted(by_id.values(), key=lambda p: (p.depth, p.origin_server_ts)):
            auth = {}
            ok = True
            for a in pdu.auth_event_ids:
                if a in accepted:
                    auth[(accepted[a].type, accepted[a].state_key or "")] = accepted[a]
                elif a in by_id:
                    ok = False  # its auth event failed or comes later: not acceptable
            try:
                if not ok:
                    raise AuthFailure("auth events missing or rejected")
                check_auth(pdu, auth, create_event=create_pdu)
            except AuthFailure as e:
                log.info("send_join answer: %s rejected: %s", pdu.event_id, e)
                continue
            accepted[pdu.event_id] = pdu
        state: dict[StateKey, Pdu] = {}
        for eid in in_state:
            pdu = accepted.get(eid)
            if pdu is not None and pdu.is_state:
                state[pdu.state_tuple] = pdu
        if ("m.room.create", "") not in state:
            raise Forbidden("The room state in the answer has no create event")
        await self.pipeline.persist_outliers(room_id, version, list(accepted.values()))
        return state

    async def leave_remote(self, user_id: str, room_id: str, reason: str | None) -> None:
        """Reject an invite to (or retract a knock on) a room we do not hold."""
        errors = []
        for server in await self._candidates(room_id, []):
            try:
                version, template = await self._make(server, room_id, user_id, "leave")
                content: dict[str, Any] = {"reason": reason} if reason else {}
                pdu = self._sign(template, version, user_id, "leave", content)
                status, body = await self._ask(server, "PUT",
                                               f"/_matrix/federation/v2/send_leave/{room_id}/{pdu.event_id}",
                                               content=pdu.data)
                if status != 200:
                    raise Forbidden(f"send_leave answered {status}")
                await self._keep_leave(pdu)
                return
            except (MatrixError, PduDropped) as e:
                errors.append(f"{server}: {getattr(e, 'error', e)}")
        # Nobody answered: the invite is rejected here all the same (the spec allows it).
        log.info("rejecting the invite to %s locally only: %s", room_id, "; ".join(errors))
        await self._forget_invite(user_id, room_id)

    async def _keep_leave(self, pdu: Pdu) -> None:
        from ...protocol.canonical_json import encode_canonical_json

        text = encode_canonical_json(pdu.data).decode()
        events, stream = self.events, self.pipeline.stream
        user = pdu.state_key
        assert user is not None

        def job(conn: Any) -> int:
            pos = stream.allocate(conn)
            if not events.has_event_job(conn, pdu.event_id):
                events.insert_event_job(conn, pdu, pos, None, text, None, outlier=True)
            events.set_membership_job(conn, user, pdu.room_id, "leave", pdu.event_id, pos)
            return pos

        self._advance(await self.pipeline.db.write(job), [user, pdu.room_id])

    async def _forget_invite(self, user_id: str, room_id: str) -> None:
        found = await self.events.membership_event(user_id, room_id)
        if found is None:
            return
        event_id = found[1]
        event = await self.events.get_event(event_id)
        if event is None:
            return
        events, stream = self.events, self.pipeline.stream

        def job(conn: Any) -> int:
            pos = stream.allocate(conn)
            events.set_membership_job(conn, user_id, room_id, "leave", event_id, pos)
            return pos

        self._advance(await self.pipeline.db.write(job), [user_id, room_id])

    async def _stripped(self, room_id: str) -> list[dict[str, Any]]:
        """The room's stripped state for an invite or a knock (whole events: stripped state's
        fields and more; newer servers check them as events)."""
        out = []
        for t in ("m.room.create", "m.room.name", "m.room.avatar", "m.room.join_rules", "m.room.canonical_alias",
                  "m.room.encryption", "m.room.topic"):
            s = await self.events.current_state_event(room_id, t)
            if s is not None:
                out.append(s.data)
        return out

    async def knock(self, user_id: str, room_id: str, via: list[str], reason: str | None) -> str:
        """A local user knocks on a room held elsewhere; the knock is kept with the room's
        stripped state (their /sync shows it) until they are let in or refused."""
        errors = []
        for server in await self._candidates(room_id, via):
            try:
                version, template = await self._make(server, room_id, user_id, "knock")
                pdu = self._sign(template, version, user_id, "knock", {"reason": reason} if reason else {})
                status, body = await self._ask(server, "PUT", f"/_matrix/federation/v1/send_knock/{room_id}/{pdu.event_id}",
                                               content=pdu.data)
                if status != 200 or not isinstance(body, dict):
                    error = body.get("error") if isinstance(body, dict) else None
                    raise Forbidden(f"send_knock answered {status}: {error or body!r}")
                state = [e for e in body.get("knock_room_state") or [] if isinstance(e, dict)][:50]
                kept = {**pdu.data, "unsigned": {"knock_room_state": state}}
                await self._keep_membership(Pdu(pdu.event_id, version, kept))
                return room_id
            except (MatrixError, PduDropped) as e:
                log.info("knocking on %s through %s failed: %s", room_id, server, e)
                errors.append(f"{server}: {getattr(e, 'error', e)}")
        raise MatrixError("No server took the knock: " + ("; ".join(errors) or "no server to ask"),
                          status=404 if not errors else 403, errcode="M_NOT_FOUND" if not errors else "M_FORBIDDEN")

    async def send_invite(self, room_id: str, invitee: str) -> None:
        """A local user's invite of a remote user, already in the room: sent to the invitee's
        server, whose counter-signed event we keep (it may refuse: the client is told)."""
        event_id = await self.events.current_state_event_id(room_id, "m.room.member", invitee)
        ev = await self.events.get_event(event_id) if event_id else None
        if ev is None or ev.pdu.membership != "invite":
            raise NotFound("No invite to send")
        stripped = await self._stripped(room_id)
        inviter = await self.events.current_state_event(room_id, "m.room.member", ev.pdu.sender)
        if inviter is not None:
            stripped.append(inviter.data)
        status, body = await self._ask(ids.server_name_of(invitee), "PUT",
                                       f"/_matrix/federation/v2/invite/{room_id}/{ev.event_id}",
                                       content={"room_version": ev.pdu.room_version.id, "event": ev.pdu.data,
                                                "invite_room_state": stripped})
        if status != 200:
            error = body.get("error") if isinstance(body, dict) else None
            raise Forbidden(f"{ids.server_name_of(invitee)} refused the invite: {error or status}")
