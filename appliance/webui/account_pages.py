"""Pages for every family member: sign in and out, my account, password, devices, my data,
and an invite for someone else (when the admin allows it)."""
from __future__ import annotations

import logging
import time
from typing import Any

from pydantic import BaseModel, Field, SecretStr, field_validator
from quart import Blueprint, Response, current_app, request

from ..core.protocol.errors import LimitExceeded, MatrixError
from ..core.services.auth import Requester
from ..core.services.login_throttle import wait_in_words
from . import session as web_session
from .forms import form_fields, parse_form
from .join import public_base_url, qr_svg
from .layout import error_page
from .pages import current_viewer, flash, hearth, may_invite, render, safe_next, see_other, signed_in
from .passwords import MIN_PASSWORD_LENGTH, check_new_password
from .security import client_ip

log = logging.getLogger(__name__)

bp = Blueprint("webui_account", __name__, template_folder="templates")

INVITE_DAYS = 7


class LoginForm(BaseModel):
    username: str = Field(title="User name", min_length=1, max_length=255,
                          json_schema_extra={"autocomplete": "username", "autocapitalize": "none",
                                             "spellcheck": "false", "placeholder": "e.g. alex",
                                             "say_limit": False})
    password: SecretStr = Field(title="Password", json_schema_extra={"autocomplete": "current-password"})

    @field_validator("username")
    @classmethod
    def _name(cls, v: str) -> str:
        return v.strip()


class PasswordForm(BaseModel):
    current_password: SecretStr = Field(title="Your current password",
                                        json_schema_extra={"autocomplete": "current-password"})
    new_password: SecretStr = Field(title="New password",
                                    description=f"At least {MIN_PASSWORD_LENGTH} characters. A few unrelated "
                                                "words make a strong password that is easy to remember.",
                                    json_schema_extra={"autocomplete": "new-password", "meter": True})
    sign_out_devices: bool = Field(True, title="Sign out my other devices",
                                   description="Phones and computers signed in with the old password must "
                                               "sign in again.")


# -- sign in and out ----------------------------------------------------------------------------

@bp.get("/")
async def home() -> Response:
    viewer = await current_viewer()
    if viewer is None:
        return await _login_form({}, {})  # the front door: signing in, without a redirect
    return see_other("/admin" if viewer.admin else "/me")


@bp.get("/login")
async def login_page() -> Response:
    if await current_viewer() is not None:
        return see_other(safe_next(request.args.get("next")))
    return await _login_form({}, {})


async def _login_form(values: dict[str, Any], errors: dict[str, str], message: str = "",
                      status: int = 200) -> Response:
    target = request.args.get("next")
    if target is None and request.method == "POST":  # a failed try keeps where it was going
        target = (await request.form).get("next")
    target = safe_next(target, "")
    # Signing in for an app (OAuth 2.0): someone new may create an account instead, if allowed.
    sign_up = target.startswith("/oauth2/") and hearth().settings.registration != "closed"
    return await render("login.html", status=status, fields=form_fields(LoginForm, values, errors),
                        message=message, next=target, sign_up=sign_up)


@bp.post("/login")
async def login() -> Response:
    form = await request.form
    model, errors = parse_form(LoginForm, form)
    if model is None:
        return await _login_form({"username": form.get("username", "")}, errors, status=400)
    h = hearth()
    name = model.username if model.username.startswith("@") else model.username.lower()
    try:
        h.core.login_ratelimiter.check(f"ip:{client_ip()}")
        user_id = await h.accounts.login.authenticate(name, model.password.get_secret_value())
    except LimitExceeded as exc:
        log.warning("web sign-in throttled for %r from %s", model.username, client_ip())
        return await _login_form({"username": model.username}, {},
                                 f"Too many tries. Wait {wait_in_words(exc.retry_after_ms)}, then try again.",
                                 status=429)
    except MatrixError:  # unknown, wrong password, deactivated: the same answer
        log.info("web sign-in refused for %r from %s", model.username, client_ip())
        return await _login_form({"username": model.username}, {},
                                 "That user name and password do not match.", status=401)
    user = await h.accounts.reads.user(user_id)
    await web_session.sign_in(user.user_id)
    log.info("web sign-in: %s", user.user_id)
    default = "/admin" if user.admin else "/me"
    return see_other(safe_next(form.get("next"), default))


@bp.post("/logout")
async def logout() -> Response:
    await web_session.sign_out()
    return see_other("/login")


# -- my account ---------------------------------------------------------------------------------

@bp.get("/me")
@signed_in()
async def my_account() -> Response:
    viewer = await current_viewer()
    h = hearth()
    devices = await h.accounts.reads.devices(viewer.user_id)
    rooms = await h.accounts.reads.joined_room_ids(viewer.user_id)
    return await render("me.html", section="me", devices=devices, room_count=len(rooms),
                        homeserver_url=public_base_url(), can_invite=may_invite(viewer))


@bp.get("/me/password")
@signed_in()
async def password_page() -> Response:
    return await render("me_password.html", section="me", fields=form_fields(PasswordForm), message="")


@bp.post("/me/password")
@signed_in()
async def change_password() -> Response:
    viewer = await current_viewer()
    form = await request.form
    model, errors = parse_form(PasswordForm, form)
    message = ""
    if model is not None:
        new = model.new_password.get_secret_value()
        problem = check_new_password(new, viewer.user_id)
        if problem:
            errors = {"new_password": problem}
        else:
            h = hearth()
            try:
                h.core.login_ratelimiter.check(f"ip:{client_ip()}")
                me = Requester(viewer.user_id, "", "", admin=viewer.admin)
                auth = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": viewer.user_id},
                        "password": model.current_password.get_secret_value()}
                await h.accounts.login.change_password(me, auth, new, model.sign_out_devices)
            except LimitExceeded as exc:
                message = f"Too many tries. Wait {wait_in_words(exc.retry_after_ms)}, then try again."
            except MatrixError as exc:
                if exc.errcode == "M_FORBIDDEN" or exc.status == 401:
                    errors = {"current_password": "That is not your current password"}
                else:
                    message = exc.error
            else:
                # Other browsers signed in as this person sign in again; this one stays.
                await web_session.sign_out_everywhere(viewer.user_id)
                await web_session.sign_in(viewer.user_id)
                await flash("Your password is changed." + (
                    " Your other devices are signed out." if model.sign_out_devices else ""))
                return see_other("/me")
    values = {"sign_out_devices": form.get("sign_out_devices") == "on"}
    return await render("me_password.html", section="me", status=400, message=message,
                        fields=form_fields(PasswordForm, values, errors))


@bp.get("/me/devices")
@signed_in()
async def my_devices() -> Response:
    viewer = await current_viewer()
    devices = await hearth().admin.users.list_devices(viewer.user_id)
    devices.sort(key=lambda d: -(d.last_seen_ts or 0))
    return await render("me_devices.html", section="me", devices=devices)


@bp.post("/me/devices/sign-out")
@signed_in()
async def sign_out_my_devices() -> Response:
    viewer = await current_viewer()
    form = await request.form
    h = hearth()
    if form.get("all") == "1":
        device_ids = await h.accounts.reads.device_ids(viewer.user_id)
    else:
        device_ids = [d for d in form.getlist("device_id") if d]
    await h.admin.users.delete_devices(viewer.user_id, device_ids)
    n = len(device_ids)
    await flash(f"Signed out {n} device{'s' if n != 1 else ''}." if n else "Nothing was selected.")
    return see_other("/me/devices")


@bp.get("/me/export")
@signed_in()
async def export_page() -> Response:
    return await render("me_export.html", section="me")


@bp.post("/me/export")
@signed_in()
async def export_download() -> Response:
    viewer = await current_viewer()
    archive = await hearth().web.data_export.get().export(viewer.user_id)

    async def chunks():
        try:
            while True:
                block = archive.read(256 * 1024)
                if not block:
                    break
                yield block
        finally:
            archive.close()

    name = f"hearth-{viewer.localpart}-{time.strftime('%Y-%m-%d')}.zip"
    response = Response(chunks(), mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


# -- invite someone -------------------------------------------------------------------------------

@bp.get("/me/invite")
@signed_in()
async def invite_page() -> Response:
    viewer = await current_viewer()
    if not may_invite(viewer):
        return await error_page(403, "Invites are off",
                                "Ask the person who looks after this server to invite someone for you.")
    return await render("me_invite.html", section="me", token=None)


@bp.post("/me/invite")
@signed_in()
async def make_invite() -> Response:
    viewer = await current_viewer()
    if not may_invite(viewer):
        return await error_page(403, "Invites are off",
                                "Ask the person who looks after this server to invite someone for you.")
    expires = int((time.time() + INVITE_DAYS * 86400) * 1000)
    token = await hearth().admin.registration_tokens.create_invite(uses_allowed=1, expiry_time=expires)
    log.info("%s made an invite code", viewer.user_id)
    link = f"{public_base_url()}/join/{token.token}"
    return await render("me_invite.html", section="me", token=token, invite_link=link, qr_svg=qr_svg(link),
                        homeserver_url=public_base_url(), days=INVITE_DAYS)
