"""Admin → Outside access: "Reach Hearth from outside the home". The choice (at home only, a
domain, a free dynamic-DNS name), the certificate and its renewal (progress shown live while an
attempt runs, past attempts with their reasons), the self-test in plain words, and the button that
gives the family the https address once it works."""
from __future__ import annotations

import json
import logging
from typing import Any

from quart import Blueprint, Response, request

from ..core.protocol.errors import MatrixError
from .forms import form_data, form_fields, parse_form
from .pages import current_viewer, flash, hearth, render, see_other, signed_in
from .reach_forms import FIELDS, FederationForm, ReachForm, current_federation_values, current_values, token_problem

log = logging.getLogger(__name__)

bp = Blueprint("webui_reach", __name__, url_prefix="/admin/reach", template_folder="templates")


def _locked() -> tuple[str, ...]:
    svc = hearth().web.server_settings
    locked = tuple(f for f in FIELDS if svc.overridden(f))
    return (*locked, "dns_token") if svc.overridden("reach_dns_token") else locked


def https_address() -> str | None:
    s = hearth().settings
    if s.reach_mode == "lan" or not s.reach_domain:
        return None
    port = s.reach_https_port
    return f"https://{s.reach_domain}" + ("" if port == 443 else f":{port}")


def _federation_locked() -> tuple[str, ...]:
    """The form's fields that HEARTH_* variables decide (the two lists are one choice on the form)."""
    svc = hearth().web.server_settings
    lists = svc.overridden("federation_allowed_servers") or svc.overridden("federation_denied_servers")
    return (*(("federation_peers", "federation_servers") if lists else ()),
            *(("federation_presence",) if svc.overridden("federation_presence") else ()))


async def _page(*, fields=None, federation_fields=None, checks=None, status: int = 200) -> Response:
    h = hearth()
    certs = h.reach.certificates
    cert_status = await certs.status()
    locked = _locked()
    address = https_address()
    federation_locked = _federation_locked()
    return await render(
        "admin_reach.html", section="admin", status=status,
        fields=fields or form_fields(ReachForm, current_values(h.settings), readonly=locked), locked=bool(locked),
        federation_fields=federation_fields or form_fields(
            FederationForm, current_federation_values(h.settings), prefix="fed-", readonly=federation_locked),
        federation_on=h.settings.federation_enabled,
        cert=cert_status, status_json=json.dumps(cert_status.public()), checks=checks,
        token_stored=bool(await certs.dns_token()), address=address,
        address_in_use=bool(address) and h.settings.base_url() == address,
        address_locked=h.web.server_settings.overridden("public_baseurl"))


@bp.get("")
@signed_in(admin=True)
async def reach_page() -> Response:
    return await _page()


@bp.post("")
@signed_in(admin=True)
async def save_reach() -> Response:
    h = hearth()
    form = await request.form
    locked = _locked()
    raw: dict[str, Any] = {k: form.get(k) for k in form if k != "csrf_token"}
    for name, value in current_values(h.settings).items():
        if name in locked:
            raw[name] = value
    model, errors = parse_form(ReachForm, raw)
    if model is not None:
        problem = token_problem(model, await h.reach.certificates.dns_token())
        if problem:
            model, errors = None, {"dns_token": problem}
    if model is None:
        raw.pop("dns_token", None)
        return await _page(fields=form_fields(ReachForm, raw, errors, readonly=locked), status=400)
    values = {k: v for k, v in model.settings_values().items() if k not in locked}
    federation_switched = values.get("federation_enabled", h.settings.federation_enabled) != h.settings.federation_enabled
    try:
        await h.web.server_settings.store_values(values)
    except MatrixError as exc:
        return await _page(fields=form_fields(ReachForm, raw, {"reach_domain": exc.error}, readonly=locked),
                           status=400)
    if model.token() and "dns_token" not in locked:
        await h.reach.certificates.store_dns_token(model.token())
    h.reach.certificates.kick()
    log.info("%s set outside access to %s %s", (await current_viewer()).user_id, model.reach_mode,
             model.reach_domain or "")
    if model.reach_mode == "lan":
        await flash("Saved: Hearth is reached at home only.")
    else:
        await flash(f"Saved. Hearth is getting a certificate for {model.reach_domain}: follow it below.")
    if federation_switched:  # the federation port, the sender: opened or closed by a restart
        log.info("federation turned %s: restarting", "on" if model.federation_enabled else "off")
        await flash("Hearth restarts to " + ("start talking with" if model.federation_enabled else "stop talking with")
                    + " other servers: back in a few seconds.")
        await h.web.process.control.restart()
    return see_other("/admin/reach")


@bp.post("/federation")
@signed_in(admin=True)
async def save_federation() -> Response:
    """Which servers may federate, and whether presence is shared: taken at once (no restart)."""
    h = hearth()
    form = await request.form
    locked = _federation_locked()
    model, errors = parse_form(FederationForm, form, prefix="fed-")
    if model is None:
        submitted = form_data(FederationForm, form, prefix="fed-")
        return await _page(federation_fields=form_fields(FederationForm, submitted, errors, prefix="fed-",
                                                         readonly=locked), status=400)
    current = current_federation_values(h.settings)
    values = model.settings_values()
    if "federation_servers" in locked:  # what the environment decides is not stored over
        del values["federation_allowed_servers"], values["federation_denied_servers"]
    if "federation_presence" in locked:
        del values["federation_presence"]
    await h.web.server_settings.store_values(values)
    log.info("%s set the servers Hearth federates with to %s (%s), presence shared: %s",
             (await current_viewer()).user_id, model.federation_peers, ", ".join(model.federation_servers) or "-",
             model.federation_presence)
    changed = current != current_federation_values(h.settings)
    await flash("Saved." if changed else "Nothing changed.")
    return see_other("/admin/reach")


@bp.post("/certificate")
@signed_in(admin=True)
async def get_certificate_now() -> Response:
    """Ask the renewal task to try now (whatever the dates say): it runs in the background."""
    h = hearth()
    if h.settings.reach_mode == "lan" or not h.settings.reach_domain:
        await flash("Choose a domain or a free name first.", "error")
        return see_other("/admin/reach")
    h.reach.certificates.kick(force=True)
    await flash("Hearth is asking for a certificate now.")
    return see_other("/admin/reach")


@bp.post("/self-test")
@signed_in(admin=True)
async def run_self_test() -> Response:
    checks = await hearth().reach.self_test.run()
    return await _page(checks=checks)


@bp.get("/status.json")
@signed_in(admin=True)
async def reach_status() -> Response:
    status = await hearth().reach.certificates.status()
    return Response(json.dumps(status.public()), mimetype="application/json", headers={"Cache-Control": "no-store"})


@bp.post("/use-address")
@signed_in(admin=True)
async def use_https_address() -> Response:
    """The family's apps, invites and QR codes use https://<name> from now on."""
    h = hearth()
    address = https_address()
    if address is None or h.reach.certificates.certificate() is None:
        await flash("There is no certificate yet: the address would not work on phones.", "error")
        return see_other("/admin/reach")
    if h.web.server_settings.overridden("public_baseurl"):
        await flash("The server's configuration (HEARTH_PUBLIC_BASEURL) decides the address.", "error")
        return see_other("/admin/reach")
    await h.web.server_settings.store_values({"public_baseurl": address})
    await flash(f"The family's apps now use {address}.")
    return see_other("/admin/reach")
