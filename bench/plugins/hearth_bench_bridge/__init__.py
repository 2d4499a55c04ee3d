"""The benchmark's bridge plugin (bench/bridges.py, not part of Hearth): `!backfill N` in its
management room fills the portal `history` with N messages from remote users, with their remote
times, through the bridge host's batch path (in batches of BATCH), and answers when it is done."""
from __future__ import annotations

import time

from appliance.bridges.api import BridgeContext, BridgeInfo, BridgePlugin, RemoteMessage

BATCH = 2000


class BenchBridge(BridgePlugin):
    info = BridgeInfo("benchbf", "Bench backfill", "History backfilled on command (benchmark only).")

    async def start(self, ctx: BridgeContext) -> None:
        self.ctx = ctx

    async def on_command(self, user_id: str, command: str, args: list[str]) -> str | None:
        if command != "backfill" or not args:
            return None
        n = int(args[0])
        key = args[1] if len(args) > 1 else "history"
        portal = await self.ctx.portals.create(key, name="History", invite=[user_id])
        start = 1_600_000_000_000
        t0 = time.perf_counter()
        for first in range(0, n, BATCH):
            await self.ctx.backfill(key, [RemoteMessage(f"person{i % 10}", {"msgtype": "m.text",
                                                                            "body": f"Old message {i:08d} of the history"},
                                                        start + i * 1000) for i in range(first, min(n, first + BATCH))])
        return f"backfilled {n} into {portal.room_id} in {time.perf_counter() - t0:.3f} s"
