"""The setup wizard's pages under /setup: a step machine over pydantic forms.

Every request checks, in the database, that setup is still pending and that the browser is on
this machine or the LAN; otherwise 404, as if the wizard never existed. The setup code claims
the browser's session; the progress is saved after every step, so a reload or a restart of the
server resumes where it was.
"""
from __future__ import annotations

import logging
from typing import Any

from quart import Blueprint, Response, current_app, redirect, request

from ..core.protocol.errors import InvalidParam, LimitExceeded, MatrixError
from ..core.services.login_throttle import wait_in_words
from ..public_address import address_problem, suggestion
from ..webui import session as web_session
from ..webui.forms import form_fields, parse_form
from ..webui.join import public_base_url, qr_svg
from ..webui.layout import error_page, render_page
from ..webui.reach_forms import token_problem
from ..webui.security import client_ip, is_local_client
from . import steps as S
from .apply import apply_setup, name_taken

log = logging.getLogger(__name__)

bp = Blueprint("setup_wizard", __name__, url_prefix="/setup", template_folder="templates")
CLAIM = "setup_claimed"


def _hearth():
    return current_app.config["HEARTH"]


async def wizard_exists() -> Response | None:
    """Before anything else (even the CSRF check): a wizard that is over, or a client that is not
    local, gets a plain 404."""
    if not is_local_client() or not await _hearth().web.setup.pending():
        return await error_page(404, "Not found", "There is no page here.")
    return None


async def claimed() -> bool:
    session = await web_session.current_session()
    return bool(session and session.data.get(CLAIM))


async def _progress() -> dict[str, Any]:
    progress = await _hearth().web.setup.progress()
    if progress["step"] not in S.STEP_IDS:
        progress["step"] = S.STEP_IDS[0]
    return progress


def _see_other(location: str) -> Response:
    return redirect(location, code=303)


def _step_values(step: S.Step, progress: dict[str, Any]) -> dict[str, Any]:
    stored = dict(progress["data"].get(step.id, {}))
    settings = _hearth().settings
    if step.id == "server_name" and "server_name" not in stored:
        stored["server_name"] = settings.server_name
    if step.id in ("features", "reach") and "form" in stored:
        stored = stored["form"]
    if step.id == "join" and "registration" not in stored and "registration" in settings.explicit_fields:
        stored["registration"] = settings.registration
    if step.id == "reach" and not stored:  # a server name from the internet's DNS is the likely name
        name = progress["data"].get("server_name", {}).get("server_name", settings.server_name)
        if "." in name and not name.endswith(".local") and ":" not in name:
            stored = {"reach_domain": name}
    if step.id == "join" and "public_baseurl" not in stored:
        stored["public_baseurl"] = _suggested_address()
    return stored


def _suggested_address() -> str:
    """The server address the join step proposes (public_address.suggestion)."""
    settings = _hearth().settings
    return suggestion(settings.base_url(), request.host_url, explicit=bool(settings.public_baseurl))


def _readonly(step: S.Step) -> tuple[str, ...]:
    settings = _hearth().settings
    if step.id == "server_name" and "server_name" in settings.explicit_fields:
        return ("server_name",)
    if step.id == "join" and "public_baseurl" in settings.explicit_fields:
        return ("public_baseurl",)
    return ()


async def _render_step(step: S.Step, progress: dict[str, Any], errors: dict[str, str] | None = None,
                       form: dict[str, Any] | None = None, message: str = "", status: int = 200) -> Response:
    fields = []
    if step.model is not None:
        values = form if form is not None else _step_values(step, progress)
        fields = form_fields(step.model, values, errors, readonly=_readonly(step))
    bridges = S.installed_bridges() if step.id == "bridges" else []
    bridge_forms = []
    if step.id == "bridges":
        stored = progress["data"].get("bridges", {}).get("bridges", {})
        for b in bridges:
            chosen = stored.get(b.id, {})
            bridge_forms.append({
                "plugin": b, "enabled": bool(chosen.get("enabled")),
                "fields": form_fields(b.settings_model, chosen.get("settings", {}), (errors or {}).get(b.id),
                                      prefix=f"bridge.{b.id}.") if b.settings_model else []})
    index = S.index_of(step.id)
    return await render_page(
        "setup_step.html", status=status, step=step, steps=S.STEPS, index=index,
        reached=S.index_of(progress["step"]), fields=fields, message=message, bridges=bridge_forms,
        summary=_summary(progress) if step.id == "summary" else None,
        server_name_fixed="server_name" in _readonly(step))


def _summary(progress: dict[str, Any]) -> list[tuple[str, str, str]]:
    d = progress["data"]
    join = {"token": "With an invite code", "open": "Anyone", "closed": "Only accounts you create"}
    features = d.get("features", {}).get("form", {})
    bridges = [b for b, v in d.get("bridges", {}).get("bridges", {}).items() if v.get("enabled")]
    quota = features.get("media_quota_mb")
    return [
        ("Server name", d.get("server_name", {}).get("server_name", "?"), "server_name"),
        ("Your account", "@{}:{}".format(d.get("admin", {}).get("username", "?"),
                                         d.get("server_name", {}).get("server_name", "?")), "admin"),
        ("Who may join", join.get(d.get("join", {}).get("registration"), "?"), "join"),
        ("Server address", d.get("join", {}).get("public_baseurl") or _suggested_address(), "join"),
        ("Show who is online", "Yes" if features.get("presence_enabled") else "No", "features"),
        ("Largest file", f"{features.get('max_upload_mb', '?')} MB", "features"),
        ("Storage per person", "No limit" if quota == 0 else f"{quota} MB", "features"),
        ("Link previews", "On" if features.get("url_previews") else "Off", "features"),
        ("Outside access", _reach_summary(d.get("reach", {}).get("settings", {})), "reach"),
        ("Bridges", ", ".join(bridges) or "None", "bridges"),
    ]


def _reach_summary(reach: dict[str, Any]) -> str:
    if reach.get("reach_mode", "lan") == "lan" or not reach.get("reach_domain"):
        return "At home only"
    how = "port 80" if reach.get("acme_challenge") == "http-01" else "DNS"
    others = "; talks with other Matrix servers" if reach.get("federation_enabled") else ""
    return f"From anywhere as {reach['reach_domain']} (certificate checked through {how}){others}"


# -- welcome: the setup code ------------------------------------------------------------------

@bp.get("")
async def wizard_start() -> Response:
    if await claimed():
        return _see_other(f"/setup/{(await _progress())['step']}")
    return await render_page("setup_welcome.html", fields=form_fields(S.WelcomeStep), message="")


@bp.post("")
async def wizard_claim() -> Response:
    form = await request.form
    model, errors = parse_form(S.WelcomeStep, form)
    if model is not None:
        try:
            ok = _hearth().web.setup.check_code(client_ip(), model.setup_code)
        except LimitExceeded as exc:
            log.warning("setup code tries throttled (from %s)", client_ip())
            return await render_page(
                "setup_welcome.html", status=429, fields=form_fields(S.WelcomeStep),
                message=f"Too many tries. Wait {wait_in_words(exc.retry_after_ms)}, then try again.")
        if ok:
            session = await web_session.ensure_session()
            session.data[CLAIM] = True
            await web_session.save_session(session)
            log.info("setup claimed from %s", client_ip())
            return _see_other("/setup")
        log.warning("wrong setup code from %s", client_ip())
        errors = {"setup_code": "That is not the setup code. Check it and try again."}
    return await render_page("setup_welcome.html", status=400, fields=form_fields(S.WelcomeStep, {}, errors),
                             message="")


# -- the steps --------------------------------------------------------------------------------

@bp.get("/<step_id>")
async def wizard_step(step_id: str) -> Response:
    step = S.step(step_id)
    if step is None:
        return await error_page(404, "Not found", "There is no page here.")
    if not await claimed():
        return _see_other("/setup")
    progress = await _progress()
    if S.index_of(step_id) > S.index_of(progress["step"]):
        return _see_other(f"/setup/{progress['step']}")
    return await _render_step(step, progress)


@bp.post("/<step_id>")
async def wizard_submit(step_id: str) -> Response:
    step = S.step(step_id)
    if step is None:
        return await error_page(404, "Not found", "There is no page here.")
    if not await claimed():
        return _see_other("/setup")
    progress = await _progress()
    if S.index_of(step_id) > S.index_of(progress["step"]):
        return _see_other(f"/setup/{progress['step']}")
    form = await request.form
    if step.id == "summary":
        return await _apply(progress)
    if step.id == "bridges":
        stored, errors = _parse_bridges(form)
        if errors:
            return await _render_step(step, progress, errors=errors, status=400)
    else:
        raw = {k: form.get(k) for k in form}
        if step.id == "server_name" and "server_name" in _readonly(step):
            raw["server_name"] = _hearth().settings.server_name
        if step.id == "join" and "public_baseurl" in _readonly(step):
            raw["public_baseurl"] = _hearth().settings.public_baseurl
        model, errors = parse_form(step.model, raw)
        if model is not None and step.id == "join":
            problem = address_problem(model.public_baseurl, _hearth().settings.host_port[0])
            if problem:
                model, errors = None, {"public_baseurl": problem}
        if model is None:
            return await _render_step(step, progress, errors=errors, form=raw, status=400)
        try:
            stored = await _stored_values(step, model, progress)
        except MatrixError as exc:
            return await _render_step(step, progress, form=raw, message=exc.error, status=400)
    progress["data"][step.id] = stored
    if step.id == "mode" and stored["mode"] == "restore":  # the upload page (restore.py), then done
        await _hearth().web.setup.save_progress(progress)
        return _see_other("/setup/restore")
    nxt = S.next_step(step.id)
    if S.index_of(nxt) > S.index_of(progress["step"]):
        progress["step"] = nxt
    await _hearth().web.setup.save_progress(progress)
    return _see_other(f"/setup/{nxt}")


async def _stored_values(step: S.Step, model, progress: dict[str, Any]) -> dict[str, Any]:
    """What the progress keeps of a step; checks that need the server raise MatrixError."""
    hearth = _hearth()
    if step.id == "mode":
        return {"mode": model.mode}
    if step.id == "server_name":
        await hearth.web.server_settings.check_server_name(model.server_name)
        return {"server_name": model.server_name}
    if step.id == "admin":
        # An account of that name (registered while setup was pending) is someone else's: the
        # wizard never makes it admin.
        server_name = progress["data"].get("server_name", {}).get("server_name", hearth.settings.server_name)
        user_id = f"@{model.username}:{server_name}"
        if await hearth.accounts.reads.exists(user_id):
            raise name_taken(user_id)
        # Only a hash is kept until the account is made; the password itself is never stored.
        password_hash = await hearth.core.auth.hash_password(model.password.get_secret_value())
        return {"username": model.username, "password_hash": password_hash}
    if step.id == "join":  # no address in the form (an older page): the one it would have proposed
        return {"registration": model.registration, "public_baseurl": model.public_baseurl or _suggested_address()}
    if step.id == "features":
        return {"form": model.model_dump(), "settings": model.settings_values()}
    if step.id == "reach":
        stored_token = progress["data"].get("reach", {}).get("dns_token")
        problem = token_problem(model, stored_token)
        if problem:
            raise InvalidParam(problem)
        return {"form": model.model_dump(mode="json", exclude={"dns_token"}), "settings": model.settings_values(),
                "dns_token": model.token() or stored_token}
    raise AssertionError(step.id)


def _parse_bridges(form) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    chosen: dict[str, Any] = {}
    errors: dict[str, dict[str, str]] = {}
    for b in S.installed_bridges():
        enabled = form.get(f"bridge.{b.id}.enabled") in ("on", "true", "1")
        entry: dict[str, Any] = {"enabled": enabled, "settings": {}}
        if b.settings_model is not None:
            model, errs = parse_form(b.settings_model, form, prefix=f"bridge.{b.id}.")
            if model is not None:
                entry["settings"] = model.model_dump(mode="json")
            elif enabled:
                errors[b.id] = errs
        chosen[b.id] = entry
    return {"bridges": chosen}, errors


async def _apply(progress: dict[str, Any]) -> Response:
    missing = [s.title for s in S.STEPS if s.id not in S.OPTIONAL and s.id not in progress["data"]]
    if missing:
        return await _render_step(S.step("summary"), progress, status=400,
                                  message="Some steps are not done yet: " + ", ".join(missing))
    try:
        applied = await apply_setup(_hearth(), progress)
    except MatrixError as exc:
        return await _render_step(S.step("summary"), progress, message=exc.error, status=400)
    await web_session.sign_out()  # the claim ends with setup
    base_url = public_base_url()
    invite_link = f"{base_url}/join/{applied.invite_token}" if applied.invite_token else None
    from ..webui.admin_backups import BOOT_ID

    return await render_page(
        "setup_done.html", applied=applied, homeserver_url=base_url, invite_link=invite_link,
        qr_svg=qr_svg(invite_link or base_url), boot_id=BOOT_ID)
