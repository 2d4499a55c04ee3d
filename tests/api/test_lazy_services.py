"""Services built on first use (appliance/hearth.py `_build_lazily`): absent until read, then
built once, with their wiring in place from the start."""
from __future__ import annotations

from appliance.hearth import Hearth, build_hearth

LAZY = ("admin_users", "admin_rooms", "registration_tokens", "admin_reports", "media", "url_previews",
        "admin_settings", "data_export", "announcements")


async def test_lazy_services_are_built_once_on_first_read(settings):
    h = await build_hearth(settings)
    try:
        assert not any(name in h.__dict__ for name in LAZY)
        media = h.media
        assert type(media).__name__ == "MediaService" and h.media is media
        assert "url_previews" in h.__dict__ and h.url_previews.media is media  # one builder, both set
        assert type(h.admin_users).__name__ == "AdminUserService"
        assert all(getattr(h, name) is not None for name in LAZY)
        assert Hearth.media is None  # the class attribute still reads as the field's default
        h.media = "replaced"  # assignment still works (tests swap services)
        assert h.media == "replaced"
    finally:
        await h.close()


async def test_blocked_room_check_builds_the_admin_service_on_first_join(hs):
    """The join check is wired at start; the admin service behind it is built when it runs."""
    alice = await hs.user("alice")
    room_id = await hs.create_room(alice, preset="public_chat")
    bob = await hs.user("bob")
    await hs.ok("POST", f"/join/{room_id}", bob, {})
    assert "admin_rooms" in hs.hearth.__dict__
