"""/join/<token>: where an invite link (and its QR code) leads: how to connect, with the code.

Shared by the setup wizard's first invite and the web UI's invites page.
"""
from __future__ import annotations

from quart import Blueprint, Response, current_app, request

from ..core.protocol.errors import LimitExceeded, MatrixError
from ..public_address import suggestion
from .layout import error_page, render_page
from .security import client_ip

bp = Blueprint("webui_join", __name__)


def public_base_url() -> str:
    """The address people use (shown to them, in invite links and QR codes): the configured or
    confirmed one; else the one this browser used, unless that is this machine's loopback (an
    admin at the box's own screen); else the one derived from the machine (public_address)."""
    settings = current_app.config["HEARTH"].settings
    if settings.public_baseurl:
        return settings.public_baseurl.rstrip("/")
    return suggestion(settings.base_url(), request.host_url, explicit=False)


def qr_svg(data: str) -> str:
    """An inline SVG QR code (no style attributes: the pages' CSP allows no inline style)."""
    import io

    import segno

    out = io.BytesIO()
    segno.make(data, error="m").save(out, kind="svg", border=2, xmldecl=False, svgns=True, omitsize=True,
                                     nl=False, dark="#1c1917", light="#ffffff", title="QR code")
    return out.getvalue().decode()


@bp.get("/join/<token>")
async def join_page(token: str) -> Response:
    hearth = current_app.config["HEARTH"]
    try:
        hearth.core.login_ratelimiter.check(f"ip:{client_ip()}")  # this page tells whether a code is valid
        valid = len(token) <= 64 and await hearth.accounts.registration.registration_token_validity(token)
    except LimitExceeded:
        return await error_page(429, "Slow down", "Too many tries. Wait a minute and reload this page.")
    except MatrixError:
        valid = False
    if not valid or hearth.settings.registration != "token":
        return await error_page(404, "This invite no longer works",
                                "It was used up, it expired, or it was withdrawn. Ask for a new one.")
    base = public_base_url()
    link = f"{base}/join/{token}"
    return await render_page("join.html", server_name=hearth.settings.server_name, homeserver_url=base,
                             invite_token=token, invite_link=link, qr_svg=qr_svg(link))
