"""Rooms, the writing side, one service per job (client-server-api "Rooms"):

- `create.RoomCreation`: POST /createRoom;
- `membership.Membership`: join, invite, leave, kick, ban, unban, knock, forget, and the one
  place that builds m.room.member events (room creation, upgrades, deactivation, profile
  changes, server notices and the admin's room shutdown all call it);
- `messages.RoomMessages`: sending messages and state, redaction, transaction IDs;
- `upgrade.RoomUpgrades`: POST /rooms/{roomId}/upgrade;
- `aliases.RoomAliases`: room aliases, the published room directory, /publicRooms;
- `lookup.RoomLookup`: the small current-state lookups they share;
- `invite_permission.InvitePermission`: invitees who block invites (spec v1.18).

Every event goes through the pipeline, which runs the auth rules; the checks here exist to
give the spec's error for the common cases (banned, not invited, unknown room) before
building an event, and for the rules that are not auth rules (guest access, aliases,
redacting others' events, transaction IDs).
"""
