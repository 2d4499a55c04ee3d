-- 0200_bridges: what the in-process bridge host (appliance/bridges/) keeps of each bridge, apart
-- from the plugins' own tables (their own migration tracks, `bridge:<id>` in schema_migrations).

-- Portals: the Matrix room of each remote chat, by the plugin's deterministic key.
CREATE TABLE bridge_portals (
    bridge     TEXT NOT NULL,
    key        TEXT NOT NULL,
    room_id    TEXT NOT NULL,
    plumbed    INTEGER NOT NULL DEFAULT 0,  -- 1: an existing room an admin linked, not made by the bridge
    created_ts INTEGER NOT NULL,
    PRIMARY KEY (bridge, key)
) WITHOUT ROWID;
CREATE UNIQUE INDEX bridge_portals_room ON bridge_portals (bridge, room_id);

-- Each person's management room with a bridge's bot.
CREATE TABLE bridge_management_rooms (
    bridge  TEXT NOT NULL,
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    PRIMARY KEY (bridge, user_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX bridge_management_rooms_room ON bridge_management_rooms (bridge, room_id);
