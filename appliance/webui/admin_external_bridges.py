"""Admin → Bridges: external bridges (application services) without YAML. Add one of the known
kinds (Hearth writes the registration with fresh tokens and shows the lines the bridge's config
needs) or upload the registration a bridge wrote; check a bridge with the doctor; remove it.
The pages call the admin group's BridgeSetup (core/services/appservices/bridge_setup.py)."""
from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, Field, field_validator
from quart import Blueprint, Response, request

from ..core.protocol.appservice import RegistrationError
from ..core.services.appservices.bridge_setup import KINDS, kind
from .forms import form_fields, parse_form
from .join import public_base_url
from .layout import error_page
from .pages import flash, hearth, render, see_other, signed_in

bp = Blueprint("webui_external_bridges", __name__, url_prefix="/admin/bridges/external", template_folder="templates")

MAX_REGISTRATION_BYTES = 64 * 1024
KindKey = Literal["whatsapp", "signal", "telegram", "discord", "heisenbridge"]


class AddBridgeForm(BaseModel):
    kind: KindKey = Field("whatsapp", title="Which bridge?", json_schema_extra={"choices": {
        k.key: (k.label, f"Its people appear as @{k.user_prefix}…; its bot is @{k.bot}.") for k in KINDS}})
    url: str = Field(title="Where the bridge listens", max_length=200,
                     description="The address Hearth uses to reach the bridge, as in the bridge's own config "
                                 "(appservice → address). Usually on this box: http://127.0.0.1 and its port.",
                     json_schema_extra={"placeholder": "http://127.0.0.1:29318", "inputmode": "url",
                                        "autocapitalize": "none", "spellcheck": "false"})

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        v = v.strip().rstrip("/")
        if "://" not in v:
            v = "http://" + v
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("Give an address like http://127.0.0.1:29318")
        return v


async def _list_page(status: int = 200, fields=None, upload_error: str = "") -> Response:
    h = hearth()
    bridges = []
    for reg in h.appservices.registry.all():
        state = await h.appservices.store.status(reg.id)
        bridges.append({"id": reg.id, "url": reg.url, "bot": reg.sender(h.settings.server_name), "status": state})
    return await render("admin_external_bridges.html", section="admin", status=status, bridges=bridges,
                        fields=fields or form_fields(AddBridgeForm), upload_error=upload_error)


@bp.get("")
@signed_in(admin=True)
async def bridges_page() -> Response:
    return await _list_page()


@bp.post("/new")
@signed_in(admin=True)
async def add_bridge() -> Response:
    form = await request.form
    raw = {"kind": form.get("kind", ""), "url": form.get("url", "")}
    model, errors = parse_form(AddBridgeForm, raw)
    if model is not None:
        bridge = kind(model.kind)
        try:
            reg = await hearth().admin.external_bridges.add(bridge, model.url)
        except RegistrationError as exc:
            errors = {"kind": str(exc)}
        else:
            await flash(f"{bridge.label} added. Put the lines below in its config, then start it.", "ok")
            return see_other(f"/admin/bridges/external/{reg.id}?new=1")
    return await _list_page(400, form_fields(AddBridgeForm, raw, errors))


@bp.post("/upload")
@signed_in(admin=True)
async def upload_registration() -> Response:
    files = await request.files
    upload = files.get("registration")
    data = upload.read(MAX_REGISTRATION_BYTES + 1) if upload is not None else b""
    if not data:
        return await _list_page(400, upload_error="Choose the registration file the bridge wrote.")
    if len(data) > MAX_REGISTRATION_BYTES:
        return await _list_page(400, upload_error="That file is too big to be a registration.")
    try:
        parsed = yaml.safe_load(data.decode("utf-8"))
        reg = await hearth().admin.external_bridges.upload(parsed)
    except (UnicodeDecodeError, yaml.YAMLError):
        return await _list_page(400, upload_error="That file is not a registration (it is not YAML or JSON).")
    except RegistrationError as exc:
        return await _list_page(400, upload_error=f"Not added: {exc}")
    await flash(f"{reg.id} added.", "ok")
    return see_other(f"/admin/bridges/external/{reg.id}")


def _registration_or_404(appservice_id: str):
    reg = hearth().appservices.registry.get(appservice_id)
    if reg is None:
        return None
    return reg


@bp.get("/<appservice_id>")
@signed_in(admin=True)
async def bridge_page(appservice_id: str) -> Response:
    h = hearth()
    reg = _registration_or_404(appservice_id)
    if reg is None:
        return await error_page(404, "No such bridge", "This bridge is not installed.")
    setup = h.admin.external_bridges
    bridge = next((k for k in KINDS if k.bot == reg.sender_localpart), None)
    checks = await setup.doctor(reg.id) if request.args.get("check") else None
    return await render("admin_external_bridge.html", section="admin", reg=reg, bridge=bridge, checks=checks,
                        config=setup.config_lines(reg, public_base_url(), bridge), new=bool(request.args.get("new")),
                        ghosts=len(await setup.ghosts(reg)), bot=reg.sender(setup.server_name))


@bp.get("/<appservice_id>/registration.yaml")
@signed_in(admin=True)
async def download_registration(appservice_id: str) -> Response:
    reg = _registration_or_404(appservice_id)
    if reg is None:
        return await error_page(404, "No such bridge", "This bridge is not installed.")
    name = re.sub(r"[^A-Za-z0-9._-]", "_", reg.id) or "bridge"
    text = yaml.safe_dump(reg.source, sort_keys=False, allow_unicode=True)
    return Response(text, mimetype="application/yaml",
                    headers={"Content-Disposition": f'attachment; filename="{name}-registration.yaml"'})


@bp.post("/<appservice_id>/remove")
@signed_in(admin=True)
async def remove_bridge(appservice_id: str) -> Response:
    form = await request.form
    if not await hearth().admin.external_bridges.remove(appservice_id, remove_ghosts=form.get("ghosts") == "on"):
        return await error_page(404, "No such bridge", "This bridge is not installed.")
    await flash(f"{appservice_id} removed: Hearth sends it nothing any more.", "ok")
    return see_other("/admin/bridges/external")
