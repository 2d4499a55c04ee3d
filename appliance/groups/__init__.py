"""The server's services in a few typed, frozen groups, one per area (DESIGN decision 13).

Each group is built in one expression by its own module, from the groups before it:

    core → rooms → accounts → e2ee → push → reading → appservices → web → bridges   (at start-up)
    admin, media                                                         (built on first use)

`rooms` is the writing side of rooms (create, join, send, upgrade, aliases), which accounts need
(deactivation leaves rooms, a profile change updates member events); `reading` is what clients
read (/sync, messages, receipts, typing, search), which needs accounts, e2ee and push.

Nothing is optional and nothing is assigned after construction. A service that must hear about
something that happens in a group built earlier subscribes to a typed event
(`core.persisted`, `accounts.devices_deleted`, appliance/core/signals.py); a service needed
later is built before the one that needs it, or is passed in as a typed callable.
`appliance/hearth.py` puts the groups together.

The groups are `@dataclass(frozen=True, slots=True, eq=False)`: one of each per server, compared
by identity (and without the generated `__eq__`, each costs half as much to define at start-up).
"""
