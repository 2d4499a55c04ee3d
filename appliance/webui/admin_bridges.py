"""Admin → Bridges: the bridges built into Hearth (appliance/bridges/), each switched on or off
here, its settings as a form (its own pydantic model, webui/forms.py), its health in plain words
and an end-to-end check; and the way to the external bridges (admin_external_bridges.py)."""
from __future__ import annotations

import time

from pydantic import ValidationError
from quart import Blueprint, Response, request

from ..bridges.api import Health, InstalledBridge
from .forms import form_fields, parse_form, validation_errors
from .layout import error_page
from .pages import current_viewer, flash, hearth, render, see_other, signed_in

bp = Blueprint("webui_bridges", __name__, url_prefix="/admin/bridges", template_folder="templates")

HEALTH_WORDS = {Health.STARTING: ("Starting", ""), Health.CONNECTED: ("Working", "ok"),
                Health.RECONNECTING: ("Reconnecting", "warn"), Health.FAILED: ("Not working", "danger"),
                Health.OFF: ("Off", "")}


def _installed(bridge_id: str) -> InstalledBridge | None:
    return next((b for b in hearth().bridges.host.describe() if b.id == bridge_id), None)


async def _row(b: InstalledBridge) -> dict:
    host = hearth().bridges.host
    entry = await host.entry(b.id)
    status = host.status(b.id)
    on = host.is_on(b.id, entry)
    words, tone = HEALTH_WORDS[status.health] if on else HEALTH_WORDS[Health.OFF]
    return {"id": b.id, "name": b.info.name if b.info else b.id, "description": b.info.description if b.info else "",
            "error": b.error, "on": on, "forced": host.forced() is not None, "entry": entry, "status": status,
            "words": words, "tone": tone}


@bp.get("")
@signed_in(admin=True)
async def bridges_page() -> Response:
    rows = [await _row(b) for b in hearth().bridges.host.describe()]
    external = len(hearth().appservices.registry.all())
    return await render("admin_bridges.html", section="admin", bridges=rows, external=external)


async def _bridge_page(bridge: InstalledBridge, *, values=None, errors=None, status: int = 200) -> Response:
    row = await _row(bridge)
    model = bridge.factory.settings_model if bridge.factory is not None else None
    fields = form_fields(model, values if values is not None else row["entry"]["settings"], errors) if model else []
    portals = await hearth().bridges.host.portals(bridge.id)
    hint = bridge.factory.plumb_hint if bridge.factory is not None else ""
    return await render("admin_bridge.html", section="admin", status=status, b=row, fields=fields, portals=portals,
                        plumb_hint=hint, now_ms=int(time.time() * 1000))


@bp.get("/<bridge_id>")
@signed_in(admin=True)
async def bridge_page(bridge_id: str) -> Response:
    bridge = _installed(bridge_id)
    if bridge is None or bridge_id == "external":
        return await error_page(404, "No such bridge", "There is no bridge of that name here.")
    return await _bridge_page(bridge)


@bp.post("/<bridge_id>/switch")
@signed_in(admin=True)
async def switch(bridge_id: str) -> Response:
    bridge = _installed(bridge_id)
    if bridge is None or bridge.factory is None:
        return await error_page(404, "No such bridge", "There is no bridge of that name here.")
    on = (await request.form).get("enabled") == "on"
    await hearth().bridges.host.configure(bridge, enabled=on)
    await flash(f"{bridge.info.name if bridge.info else bridge_id} is {'on' if on else 'off'}.", "ok")
    return see_other(f"/admin/bridges/{bridge_id}")


@bp.post("/<bridge_id>/settings")
@signed_in(admin=True)
async def save_settings(bridge_id: str) -> Response:
    bridge = _installed(bridge_id)
    if bridge is None or bridge.factory is None or bridge.factory.settings_model is None:
        return await error_page(404, "No such bridge", "There is no bridge of that name here.")
    form = await request.form
    raw = {k: form.get(k) for k in form}
    model, errors = parse_form(bridge.factory.settings_model, raw)
    if model is None:
        return await _bridge_page(bridge, values=raw, errors=errors, status=400)
    try:
        await hearth().bridges.host.configure(bridge, settings=model.model_dump(mode="json"))
    except ValidationError as exc:
        return await _bridge_page(bridge, values=raw, errors=validation_errors(exc), status=400)
    await flash("Settings saved. The bridge restarts with them.", "ok")
    return see_other(f"/admin/bridges/{bridge_id}")


@bp.post("/<bridge_id>/link")
@signed_in(admin=True)
async def link_room(bridge_id: str) -> Response:
    form = await request.form
    try:
        key = await hearth().bridges.host.link_room(bridge_id, form.get("room", ""), form.get("remote", ""),
                                                   (await current_viewer()).user_id)
    except ValueError as exc:
        await flash(str(exc), "error")
    else:
        await flash(f"Linked to {key}.", "ok")
    return see_other(f"/admin/bridges/{bridge_id}")


@bp.post("/<bridge_id>/unlink")
@signed_in(admin=True)
async def unlink_room(bridge_id: str) -> Response:
    key = (await request.form).get("key", "")
    await hearth().bridges.host.unlink_room(bridge_id, key)
    await flash(f"{key} is no longer linked.", "ok")
    return see_other(f"/admin/bridges/{bridge_id}")


@bp.post("/<bridge_id>/probe")
@signed_in(admin=True)
async def probe(bridge_id: str) -> Response:
    bridge = _installed(bridge_id)
    if bridge is None:
        return await error_page(404, "No such bridge", "There is no bridge of that name here.")
    result = await hearth().bridges.host.probe(bridge_id)
    await flash(("Check passed: " if result.ok else "Check failed: ") + result.detail, "ok" if result.ok else "error")
    return see_other(f"/admin/bridges/{bridge_id}")
