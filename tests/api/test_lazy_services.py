"""Groups built on first use (appliance/hearth.py, groups/on_first_use.py): absent until asked
for, then built once, with their wiring in place from the start."""
from __future__ import annotations

import asyncio
import sys

import pytest

from appliance.groups.on_first_use import OnFirstUse
from appliance.hearth import build_hearth


async def test_lazy_groups_are_built_once_on_first_use(settings):
    h = await build_hearth(settings)
    try:
        assert not h.built_admin.built and not h.built_media.built and not h.web.data_export.built
        media = h.media
        assert type(media.repository).__name__ == "MediaService" and h.media is media
        assert h.media.previews.media is media.repository  # one build, both services
        assert type(h.admin.users).__name__ == "AdminUserService" and h.built_admin.built
        assert type(h.web.data_export.get()).__name__ == "DataExportService"
        assert h.web.data_export.get() is h.web.data_export.get()
    finally:
        await h.close()


def test_on_first_use_builds_once_and_again_after_a_failure():
    calls = []

    def build() -> list:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("not yet")
        return calls

    holder: OnFirstUse[list] = OnFirstUse(build)
    with pytest.raises(RuntimeError, match="not yet"):
        holder.get()
    assert not holder.built
    assert holder.get() is holder.get() is calls and len(calls) == 2 and holder.built


async def test_blocked_room_check_builds_the_admin_service_on_first_join(hs):
    """The join check is wired at start; the admin service behind it is built when it runs."""
    alice = await hs.user("alice")
    room_id = await hs.create_room(alice, preset="public_chat")
    assert not hs.hearth.built_admin.built
    bob = await hs.user("bob")
    await hs.ok("POST", f"/join/{room_id}", bob, {})
    assert hs.hearth.built_admin.built


async def test_the_bridge_host_is_built_once_a_bridge_is_switched_on(settings, monkeypatch):
    """No bridge on: the bridges group's task only reads the stored choice; one switched on (as
    `hearth bridges enable` stores it) builds the host, whose own loop then runs."""
    monkeypatch.setattr("appliance.groups.bridges.WATCH_S", 0.02)
    h = await build_hearth(settings)
    follow = asyncio.create_task(h.bridges.background[0]())
    try:
        await asyncio.sleep(0.1)
        assert not h.bridges.built_host.built and not follow.done()
        await h.web.server_settings.store_values({"bridge_echo": {"enabled": True, "settings": {}}})
        for _ in range(100):
            if h.bridges.built_host.built:
                break
            await asyncio.sleep(0.02)
        assert h.bridges.built_host.built and type(h.bridges.host).__name__ == "BridgeHost"
        assert not follow.done()  # the host's loop runs in the same task
    finally:
        follow.cancel()
        await asyncio.gather(follow, return_exceptions=True)
        await h.close()


def test_lazy_groups_are_not_imported_at_start_up():
    import subprocess

    code = ("import sys, asyncio, tempfile; from appliance.settings import Settings; "
            "from appliance.hearth import build_hearth\n"
            "async def main():\n"
            "    h = await build_hearth(Settings(data_dir=tempfile.mkdtemp(), server_name='hearth.test'))\n"
            "    await h.close()\n"
            "asyncio.run(main())\n"
            "print(sorted(m for m in sys.modules if m.startswith(('appliance.groups.admin', "
            "'appliance.groups.media', 'appliance.core.services.admin', 'appliance.core.services.media', "
            "'appliance.core.services.data_export', 'appliance.bridges', 'httpx'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
