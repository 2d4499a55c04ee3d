"""Pages for the server's admins: overview, people, invites, rooms, reports, announcements,
settings and the request log. Every action calls the same services as the admin API
(the admin group: hearth.admin.users, .rooms, .registration_tokens, .reports, .announcements,
.settings); nothing here decides anything the API would decide differently."""
from __future__ import annotations

import logging
import time
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from quart import Blueprint, Response, request

from ..core.protocol import ids
from ..core.protocol.errors import MatrixError
from ..core.services.admin_rooms import DeleteRequest
from ..core.services.admin_users import UserChanges
from ..public_address import address_problem
from . import session as web_session
from .forms import form_fields, parse_form
from .join import public_base_url, qr_svg
from .layout import error_page
from .pages import current_viewer, flash, hearth, render, see_other, signed_in
from .problems import recent_problems
from .passwords import check_new_password
from .server_forms import FeaturesStep, JoinStep

log = logging.getLogger(__name__)

bp = Blueprint("webui_admin", __name__, url_prefix="/admin", template_folder="templates")


def _user_id(text: str) -> str:
    """A person's localpart or full ID → their full ID on this server."""
    text = text.strip()
    return text if text.startswith("@") else f"@{text.lower()}:{hearth().settings.server_name}"


# -- overview -------------------------------------------------------------------------------------

@bp.get("")
@signed_in(admin=True)
async def dashboard() -> Response:
    h = hearth()
    status = await h.web.server_status.report()
    people = await h.admin.users.list_users(limit=0, user_id=None)
    system = await h.accounts.reads.user(h.accounts.server_notices.system_user_id)
    people_total = people.total - (1 if system is not None and not system.deactivated else 0)
    rooms = await h.admin.rooms.list_rooms(limit=5, order_by="events")
    invites = [t for t in await h.admin.registration_tokens.list(valid=True)]
    reports = await h.admin.reports.list_event_reports(limit=0)
    started = time.time() - status["uptime_s"]
    problems = recent_problems(h.web.process.error_log.recent(10), since=started)
    figures = h.web.metrics.summary()
    from ..bridges.api import Health

    bridges = [{"name": h.bridges.host.runners[st.id].info.name, "health": st.health.value, "reason": st.reason,
                "failed": st.health is Health.FAILED} for st in h.bridges.host.statuses() if st.id in h.bridges.host.runners]
    return await render("admin_dashboard.html", section="admin", report=status, people_total=people_total,
                        rooms=rooms, invites_open=len(invites), reports_total=reports.total, problems=problems,
                        figures=figures, bridges=bridges,
                        needs_attention=bool(status["health"]["warnings"]) or any(p.attention for p in problems)
                        or bool(figures["behind"]) or any(b["failed"] for b in bridges),
                        registration=h.settings.registration)


# -- people ---------------------------------------------------------------------------------------

class NewPersonForm(BaseModel):
    username: str = Field(title="User name", min_length=1, max_length=64,
                          description="Small letters, digits and . _ - only. They sign in with it.",
                          json_schema_extra={"autocomplete": "off", "autocapitalize": "none",
                                             "spellcheck": "false", "placeholder": "e.g. grandma"})
    displayname: str | None = Field(None, title="Name shown to others", max_length=100,
                                    json_schema_extra={"placeholder": "e.g. Grandma Rose"})
    password: SecretStr = Field(title="First password",
                                description="Tell it to them in person; they can change it later.",
                                json_schema_extra={"autocomplete": "new-password", "meter": True})
    admin: bool = Field(False, title="Can manage the server",
                        description="Admins see these pages: they can invite, reset passwords and delete rooms.")

    @field_validator("username")
    @classmethod
    def _username(cls, v: str) -> str:
        v = v.strip().removeprefix("@").split(":")[0].lower()
        if not ids.is_valid_user_localpart(v):
            raise ValueError("Use small letters, digits and . _ - only")
        return v


class ResetPasswordForm(BaseModel):
    new_password: SecretStr = Field(title="New password", json_schema_extra={"autocomplete": "new-password",
                                                                             "meter": True})
    sign_out_devices: bool = Field(True, title="Sign out all their devices",
                                   description="Recommended if a phone was lost or the password leaked.")


@bp.get("/people")
@signed_in(admin=True)
async def people() -> Response:
    return await _people_page()


async def _people_page(fields=None, message: str = "", status: int = 200) -> Response:
    h = hearth()
    q = request.args.get("q", "").strip()[:100]
    show = request.args.get("show", "active")
    deactivated = {"active": False, "deactivated": True, "all": None}.get(show, False)
    page = await h.admin.users.list_users(limit=500, name=q or None, deactivated=deactivated,
                                          order_by="name")
    system = h.accounts.server_notices.system_user_id
    users = [u for u in page.users if u.name != system]
    return await render("admin_people.html", section="admin", users=users, q=q, show=show, message=message,
                        fields=fields or form_fields(NewPersonForm), status=status)


@bp.post("/people")
@signed_in(admin=True)
async def create_person() -> Response:
    form = await request.form
    raw = {k: form.get(k) for k in form}
    model, errors = parse_form(NewPersonForm, raw)
    if model is not None:
        problem = check_new_password(model.password.get_secret_value(), "@" + model.username + ":")
        if problem:
            errors = {"password": problem}
    if model is None or errors:
        return await _people_page(form_fields(NewPersonForm, raw, errors), status=400)
    h = hearth()
    user_id = f"@{model.username}:{h.settings.server_name}"
    try:
        if await h.accounts.reads.exists(user_id):
            raise MatrixError("Someone already has that user name", errcode="M_USER_IN_USE")
        await h.admin.users.upsert_user(user_id, UserChanges(password=model.password.get_secret_value(),
                                                             displayname=model.displayname, admin=model.admin))
    except MatrixError as exc:
        return await _people_page(form_fields(NewPersonForm, raw, {"username": exc.error}), status=400)
    await flash(f"{user_id} can now sign in.")
    return see_other(f"/admin/people/{user_id}")


async def _person_page(user_id: str, *, fields=None, status: int = 200) -> Response:
    h = hearth()
    try:
        user = await h.admin.users.get_user(user_id)
    except MatrixError:
        return await error_page(404, "No such person", "There is nobody with that user name here.")
    devices = sorted(await h.admin.users.list_devices(user_id), key=lambda d: -(d.last_seen_ts or 0))
    rooms = await h.admin.users.joined_rooms(user_id)
    viewer = await current_viewer()
    return await render("admin_person.html", section="admin", user=user, devices=devices, room_count=len(rooms),
                        is_me=viewer.user_id == user_id, status=status,
                        fields=fields or form_fields(ResetPasswordForm))


@bp.get("/people/<user_id>")
@signed_in(admin=True)
async def person(user_id: str) -> Response:
    return await _person_page(user_id)


@bp.post("/people/<user_id>/password")
@signed_in(admin=True)
async def reset_password(user_id: str) -> Response:
    form = await request.form
    model, errors = parse_form(ResetPasswordForm, form)
    if model is not None:
        problem = check_new_password(model.new_password.get_secret_value(), user_id)
        if problem:
            errors = {"new_password": problem}
    if model is None or errors:
        return await _person_page(user_id, status=400, fields=form_fields(
            ResetPasswordForm, {"sign_out_devices": form.get("sign_out_devices") == "on"}, errors))
    try:
        await hearth().admin.users.set_password(user_id, model.new_password.get_secret_value(),
                                                logout_devices=model.sign_out_devices)
    except MatrixError as exc:
        return await _person_page(user_id, status=400, fields=form_fields(
            ResetPasswordForm, {}, {"new_password": exc.error}))
    await web_session.sign_out_everywhere(user_id)
    viewer = await current_viewer()
    if viewer.user_id == user_id:  # reset one's own: stay signed in here
        await web_session.sign_in(user_id)
    log.info("%s reset the password of %s", viewer.user_id, user_id)
    await flash("The new password works now." + (" Their devices are signed out." if model.sign_out_devices else ""))
    return see_other(f"/admin/people/{user_id}")


@bp.post("/people/<user_id>/admin")
@signed_in(admin=True)
async def set_admin(user_id: str) -> Response:
    form = await request.form
    make = form.get("admin") == "1"
    viewer = await current_viewer()
    try:
        await hearth().admin.users.set_admin(user_id, make, by=viewer.user_id)
    except MatrixError as exc:
        await flash(exc.error, "error")
    else:
        await flash(f"{user_id} can now manage the server." if make else f"{user_id} is no longer an admin.")
    return see_other(f"/admin/people/{user_id}")


@bp.post("/people/<user_id>/deactivate")
@signed_in(admin=True)
async def deactivate(user_id: str) -> Response:
    viewer = await current_viewer()
    if user_id == viewer.user_id:
        await flash("You cannot deactivate your own account here.", "error")
        return see_other(f"/admin/people/{user_id}")
    try:
        await hearth().admin.users.deactivate(user_id, erase=(await request.form).get("erase") == "on")
    except MatrixError as exc:
        await flash(exc.error, "error")
        return see_other(f"/admin/people/{user_id}")
    await web_session.sign_out_everywhere(user_id)
    log.info("%s deactivated %s", viewer.user_id, user_id)
    await flash(f"{user_id} is deactivated: they are signed out and cannot sign in again.")
    return see_other("/admin/people")


@bp.post("/people/<user_id>/devices/sign-out")
@signed_in(admin=True)
async def sign_out_devices(user_id: str) -> Response:
    form = await request.form
    h = hearth()
    try:
        device_ids = (await h.accounts.reads.device_ids(user_id) if form.get("all") == "1"
                      else [d for d in form.getlist("device_id") if d])
        await h.admin.users.delete_devices(user_id, device_ids)
    except MatrixError as exc:
        await flash(exc.error, "error")
    else:
        n = len(device_ids)
        await flash(f"Signed out {n} device{'s' if n != 1 else ''}.")
    return see_other(f"/admin/people/{user_id}")


# -- invites --------------------------------------------------------------------------------------

class InviteForm(BaseModel):
    uses: int = Field(1, ge=1, le=100, title="How many people may use it",
                      json_schema_extra={"inputmode": "numeric", "unit": "people"})
    days: int = Field(7, ge=1, le=365, title="Valid for", json_schema_extra={"inputmode": "numeric",
                                                                             "unit": "days"})


@bp.get("/invites")
@signed_in(admin=True)
async def invites() -> Response:
    return await _invites_page()


async def _invites_page(fields=None, status: int = 200) -> Response:
    h = hearth()
    tokens = sorted(await h.admin.registration_tokens.list(), key=lambda t: (not t.valid, -(t.expiry_time or 0)))
    return await render("admin_invites.html", section="admin", tokens=tokens, status=status,
                        fields=fields or form_fields(InviteForm), registration=h.settings.registration,
                        now_ms=int(time.time() * 1000))


@bp.post("/invites")
@signed_in(admin=True)
async def create_invite() -> Response:
    form = await request.form
    raw = {k: form.get(k) for k in form}
    model, errors = parse_form(InviteForm, raw)
    if model is None:
        return await _invites_page(form_fields(InviteForm, raw, errors), status=400)
    expires = int((time.time() + model.days * 86400) * 1000)
    token = await hearth().admin.registration_tokens.create_invite(uses_allowed=model.uses, expiry_time=expires)
    log.info("%s made invite code %s", (await current_viewer()).user_id, token.token)
    return see_other(f"/admin/invites/{token.token}")


@bp.get("/invites/<token>")
@signed_in(admin=True)
async def invite(token: str) -> Response:
    h = hearth()
    try:
        info = await h.admin.registration_tokens.get(token)
    except MatrixError:
        return await error_page(404, "No such invite", "That invite code does not exist (any more).")
    base = public_base_url()
    link = f"{base}/join/{info.token}"
    return await render("admin_invite.html", section="admin", token=info, invite_link=link, qr_svg=qr_svg(link),
                        homeserver_url=base, registration=h.settings.registration)


@bp.post("/invites/<token>/revoke")
@signed_in(admin=True)
async def revoke_invite(token: str) -> Response:
    try:
        await hearth().admin.registration_tokens.delete(token)
    except MatrixError:
        pass  # already gone: the result is the same
    await flash("The invite code no longer works.")
    return see_other("/admin/invites")


# -- rooms ----------------------------------------------------------------------------------------

@bp.get("/rooms")
@signed_in(admin=True)
async def rooms() -> Response:
    h = hearth()
    q = request.args.get("q", "").strip()[:100]
    order = request.args.get("order", "events")
    if order not in ("events", "name", "joined_members", "state_events"):
        order = "events"
    page = await h.admin.rooms.list_rooms(limit=200, order_by=order, search_term=q or None)
    notice_rooms = await h.accounts.server_notices.notice_room_ids()
    return await render("admin_rooms.html", section="admin", rooms=page.rooms, total=page.total_rooms, q=q,
                        order=order, notice_rooms=notice_rooms)


@bp.get("/rooms/<room_id>")
@signed_in(admin=True)
async def room(room_id: str) -> Response:
    h = hearth()
    try:
        details = await h.admin.rooms.get_room(room_id)
        members = await h.admin.rooms.members(room_id)
    except MatrixError:
        blocked, by = await h.admin.rooms.block_status(room_id) if ids.is_valid_room_id(room_id) else (False, None)
        if blocked:
            return await render("admin_room.html", section="admin", room=None, room_id=room_id, blocked=True,
                                blocked_by=by, members=[])
        return await error_page(404, "No such room", "This server holds no room with that ID (any more).")
    blocked, by = await h.admin.rooms.block_status(room_id)
    return await render("admin_room.html", section="admin", room=details, room_id=room_id, members=members,
                        blocked=blocked, blocked_by=by)


@bp.post("/rooms/<room_id>/block")
@signed_in(admin=True)
async def block_room(room_id: str) -> Response:
    block = (await request.form).get("block") == "1"
    try:
        await hearth().admin.rooms.set_blocked(room_id, block, by=(await current_viewer()).user_id)
    except MatrixError as exc:
        await flash(exc.error, "error")
    else:
        await flash("Nobody can join this room now." if block else "People can join this room again.")
    return see_other(f"/admin/rooms/{room_id}")


@bp.post("/rooms/<room_id>/delete")
@signed_in(admin=True)
async def delete_room(room_id: str) -> Response:
    form = await request.form
    if form.get("confirm") != "on":
        await flash("Tick the box to confirm: deleting a room cannot be undone.", "error")
        return see_other(f"/admin/rooms/{room_id}")
    viewer = await current_viewer()
    try:
        await hearth().admin.rooms.start_delete(room_id, DeleteRequest(block=form.get("block") == "on"),
                                                by=viewer.user_id)
    except MatrixError as exc:
        await flash(exc.error, "error")
        return see_other(f"/admin/rooms/{room_id}")
    log.info("%s deleted room %s", viewer.user_id, room_id)
    await flash("The room is being deleted: everyone leaves it and its messages are removed.")
    return see_other("/admin/rooms")


# -- content reports ------------------------------------------------------------------------------

@bp.get("/reports")
@signed_in(admin=True)
async def reports() -> Response:
    h = hearth()
    page = await h.admin.reports.list_event_reports(limit=100)
    items = []
    for r in page.event_reports:
        _, event = await h.admin.reports.get_event_report(r.id)
        content = (event or {}).get("content") or {}
        body = content.get("body") if isinstance(content.get("body"), str) else None
        items.append({"report": r, "body": body, "type": (event or {}).get("type"), "gone": event is None})
    return await render("admin_reports.html", section="admin", items=items, total=page.total)


@bp.post("/reports/<int:report_id>/dismiss")
@signed_in(admin=True)
async def dismiss_report(report_id: int) -> Response:
    try:
        await hearth().admin.reports.delete_event_report(report_id)
    except MatrixError:
        pass
    await flash("The report is dismissed.")
    return see_other("/admin/reports")


# -- announcements --------------------------------------------------------------------------------

class AnnouncementForm(BaseModel):
    message: str = Field(title="Message", min_length=1, max_length=4000,
                         description="Everyone gets it as a message from the server, in a room called "
                                     "“Server notices”.",
                         json_schema_extra={"widget": "textarea",
                                            "placeholder": "e.g. The server restarts tonight at 22:00 for "
                                                           "an update. It will be back in five minutes."})


@bp.get("/announce")
@signed_in(admin=True)
async def announce_page() -> Response:
    recipients = await hearth().admin.announcements.recipients()
    return await render("admin_announce.html", section="admin", fields=form_fields(AnnouncementForm),
                        recipients=len(recipients))


@bp.post("/announce")
@signed_in(admin=True)
async def announce() -> Response:
    form = await request.form
    raw = {"message": form.get("message", "")}
    model, errors = parse_form(AnnouncementForm, raw)
    h = hearth()
    if model is not None:
        try:
            result = await h.admin.announcements.announce(model.message)
        except MatrixError as exc:
            errors = {"message": exc.error}
        else:
            msg = f"Sent to {len(result.sent)} {'person' if len(result.sent) == 1 else 'people'}."
            if result.failed:
                msg += f" {len(result.failed)} could not be reached."
            await flash(msg, "ok" if not result.failed else "error")
            return see_other("/admin/announce")
    return await render("admin_announce.html", section="admin", status=400, recipients=len(await h.admin.announcements.recipients()),
                        fields=form_fields(AnnouncementForm, raw, errors))


# -- settings -------------------------------------------------------------------------------------

class SettingsForm(FeaturesStep, JoinStep):  # JoinStep's field first
    members_can_invite: bool = Field(False, title="Family members may invite people",
                                     description="Everyone (not only admins) can make an invite code for one "
                                                 "person, valid for a week. Needs invite codes above.")
    registration_shared_secret_enabled: bool = Field(
        False, title="Shared-secret registration (for provisioning tools)",
        description="Tools holding the server's secret (hearth registration-secret show) may create "
                    "accounts, admins included, through /_synapse/admin/v1/register. Leave off unless "
                    "you use such a tool.")
    metrics_enabled: bool = Field(
        False, title="Monitoring figures (Prometheus)",
        description="Serve the server's figures at /_hearth/metrics, to admins' access tokens and to "
                    "devices on your home network. The dashboard shows them either way.")


def _settings_values(current: dict[str, Any]) -> dict[str, Any]:
    mib = 1024 * 1024
    return {"registration": current["registration"], "presence_enabled": current["presence_enabled"],
            "max_upload_mb": max(1, current["max_upload_bytes"] // mib),
            "media_quota_mb": current["media_quota_bytes"] // mib, "url_previews": current["url_previews"],
            "members_can_invite": current["members_can_invite"],
            "public_baseurl": current["public_baseurl"] or hearth().settings.base_url(),
            "registration_shared_secret_enabled": current["registration_shared_secret_enabled"],
            "metrics_enabled": current["metrics_enabled"]}


_FIELD_OF = {"registration": "registration", "presence_enabled": "presence_enabled",
             "max_upload_bytes": "max_upload_mb", "media_quota_bytes": "media_quota_mb",
             "url_previews": "url_previews", "members_can_invite": "members_can_invite",
             "public_baseurl": "public_baseurl",
             "registration_shared_secret_enabled": "registration_shared_secret_enabled",
             "metrics_enabled": "metrics_enabled"}


async def _settings_page(values=None, errors=None, status: int = 200) -> Response:
    s = hearth().admin.settings
    locked = tuple(_FIELD_OF[k] for k in s.locked())
    fields = form_fields(SettingsForm, values or _settings_values(s.current()), errors, readonly=locked)
    return await render("admin_settings.html", section="admin", fields=fields, locked=bool(locked),
                        status=status)


@bp.get("/settings")
@signed_in(admin=True)
async def settings_page() -> Response:
    return await _settings_page()


@bp.post("/settings")
@signed_in(admin=True)
async def save_settings() -> Response:
    form = await request.form
    raw = {k: form.get(k) for k in form}
    model, errors = parse_form(SettingsForm, raw)
    problem = model and address_problem(model.public_baseurl, hearth().settings.host_port[0])
    if problem:
        model, errors = None, {"public_baseurl": problem}
    if model is None:
        return await _settings_page(raw, errors, status=400)
    values = {"registration": model.registration, **model.settings_values(),
              "members_can_invite": model.members_can_invite,
              "registration_shared_secret_enabled": model.registration_shared_secret_enabled,
              "metrics_enabled": model.metrics_enabled}
    if "public_baseurl" in raw:  # empty: worked out from the machine again
        values["public_baseurl"] = model.public_baseurl
    try:
        await hearth().admin.settings.update(values)
    except MatrixError as exc:
        return await _settings_page(raw, {"registration": exc.error}, status=400)
    log.info("%s changed the settings", (await current_viewer()).user_id)
    await flash("Settings saved. They apply right away.")
    return see_other("/admin/settings")


# -- request log ----------------------------------------------------------------------------------

@bp.get("/logs")
@signed_in(admin=True)
async def logs() -> Response:
    args = request.args
    filters = {k: args.get(k, "").strip()[:200] for k in ("tag", "user", "status", "path")}
    process = hearth().web.process
    request_log = process.request_log
    records = request_log.query(**{k: v or None for k, v in filters.items()}, limit=300)
    errors = process.error_log.recent(50)
    if filters["tag"]:
        errors = [e for e in errors if e.request_tag and e.request_tag.startswith(filters["tag"])]
    return await render("admin_logs.html", section="admin", records=records, filters=filters,
                        kept=len(request_log), errors=errors)
