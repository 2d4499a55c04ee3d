"""The web UI's pages for signed-in people: what they share (who is signed in, the menu, flash
messages, formatting filters) and `install_web_ui(app)`.

    @bp.get("/me")
    @signed_in()                  # or @signed_in(admin=True)
    async def my_account(): ...   # g.viewer: the signed-in Viewer

Sign-in is a web session (webui.session) naming the user; it ends when the account is
deactivated, its password is reset, or the person signs out.
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from quart import Quart, Response, current_app, g, redirect, request

from . import session as web_session
from .layout import error_page, render_page


@dataclass(frozen=True, slots=True)
class Viewer:
    user_id: str
    admin: bool
    displayname: str | None

    @property
    def localpart(self) -> str:
        return self.user_id[1:].split(":", 1)[0]

    @property
    def name(self) -> str:
        return self.displayname or self.localpart


def hearth():
    return current_app.config["HEARTH"]


async def current_viewer() -> Viewer | None:
    if "viewer" in g:
        return g.viewer
    viewer = None
    session = await web_session.current_session()
    if session is not None and session.user_id:
        user = await hearth().accounts.reads.user(session.user_id)
        if user is None or user.deactivated:
            await web_session.sign_out()
        else:
            viewer = Viewer(user.user_id, user.admin, user.displayname)
    g.viewer = viewer
    return viewer


def see_other(location: str) -> Response:
    return redirect(location, code=303)


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path on this site may follow a sign-in.

    Browsers drop tabs and newlines from a URL and read a backslash as a slash, so
    `/<TAB>/evil.example` or `/\\evil.example` would lead to another site: a path with any
    control character, space, backslash or a `//` start, or with a scheme or host, is refused.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    if any(not ch.isprintable() or ch.isspace() or ch == "\\" for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def signed_in(admin: bool = False):
    def decorate(view):
        @functools.wraps(view)
        async def wrapper(*args, **kwargs):
            viewer = await current_viewer()
            if viewer is None:
                if request.method == "GET":
                    return see_other("/login?next=" + quote(request.full_path.rstrip("?"), safe="/"))
                return see_other("/login")
            if admin and not viewer.admin:
                return await error_page(403, "For admins only",
                                        "This page is for the people who look after this server.")
            return await view(*args, **kwargs)
        return wrapper
    return decorate


async def flash(message: str, kind: str = "ok") -> None:
    session = await web_session.current_session()
    if session is not None:
        session.data["flash"] = [kind, message]
        await web_session.save_session(session)


async def take_flash() -> tuple[str, str] | None:
    session = await web_session.current_session()
    if session is None or "flash" not in session.data:
        return None
    kind, message = session.data.pop("flash")
    await web_session.save_session(session)
    return kind, message


ADMIN_MENU = (
    ("/admin", "Overview"), ("/admin/people", "People"), ("/admin/invites", "Invites"),
    ("/admin/rooms", "Rooms"), ("/admin/reports", "Reports"), ("/admin/announce", "Announce"),
    ("/admin/settings", "Settings"), ("/admin/reach", "Outside access"), ("/admin/bridges", "Bridges"),
    ("/admin/backups", "Backups"),
    ("/admin/logs", "Logs"),
)


def member_menu(can_invite: bool) -> tuple[tuple[str, str], ...]:
    items = [("/me", "My account"), ("/me/password", "Password"), ("/me/devices", "Devices"),
             ("/me/bridges", "Bridges"), ("/me/export", "My data")]
    if can_invite:
        items.append(("/me/invite", "Invite"))
    return tuple(items)


def may_invite(viewer: Viewer) -> bool:
    s = hearth().settings
    return s.registration == "token" and (viewer.admin or s.members_can_invite)


async def render(template: str, *, status: int = 200, section: str = "", **context) -> Response:
    """A signed-in page: the menu, the flash message and the viewer come with it."""
    viewer = await current_viewer()
    menu = ADMIN_MENU if viewer is not None and viewer.admin and section == "admin" else (
        member_menu(may_invite(viewer)) if viewer is not None else ())
    return await render_page(template, status=status, viewer=viewer, menu=menu, section=section,
                             current_path=request.path, flash=await take_flash(),
                             server_name=hearth().settings.server_name, **context)


# -- formatting -------------------------------------------------------------------------------

def human_bytes(n: int | float | None) -> str:
    if n is None:
        return "unknown"
    n = float(n)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            if unit == "bytes":
                return f"{int(n)} bytes"
            return f"{n:.1f} {unit}" if abs(n) < 10 else f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.0f} TB"


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = max(0, int(seconds))
    for size, unit in ((365 * 86400, "year"), (30 * 86400, "month"), (7 * 86400, "week"), (86400, "day"),
                       (3600, "hour"), (60, "minute")):
        if seconds >= size:
            value = seconds // size
            return f"{value} {unit}{'s' if value != 1 else ''}"
    return "less than a minute"


def ago(ts_ms: int | None) -> str:
    if not ts_ms:
        return "never"
    delta = time.time() - ts_ms / 1000
    if delta < 60:
        return "just now"
    return human_duration(delta) + " ago"


def when(ts_ms: int | None) -> str:
    if not ts_ms:
        return "—"
    return time.strftime("%d %b %Y, %H:%M", time.localtime(ts_ms / 1000))


def clock(ts_ms: int | None) -> str:
    if not ts_ms:
        return "—"
    if time.time() - ts_ms / 1000 > 20 * 3600:
        return when(ts_ms)
    return time.strftime("%H:%M:%S", time.localtime(ts_ms / 1000))


def install_web_ui(app: Quart) -> None:
    """App-wide parts of the pages; the pages themselves (account_pages, admin_pages,
    admin_backups) are in the route table (appliance/routes.py) and load on their first request."""
    from .restore_upload import install_restore_upload

    install_restore_upload(app, "/admin/backups/restore", _admin_may_restore)
    app.jinja_env.filters.update(bytes=human_bytes, duration=human_duration, ago=ago, when=when, clock=clock)


async def _admin_may_restore() -> Response | None:
    """Only an admin uploads a backup to restore on the Backups page."""
    viewer = await current_viewer()
    if viewer is None or not viewer.admin:
        return await error_page(403, "For admins only", "Only an admin can restore a backup.")
    return None
