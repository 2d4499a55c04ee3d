"""/me/bridges: a family member's side of the bridges that are switched on — the steps each one
asks of them (their name and password on the other network, a code, a QR code), as forms
rendered from the plugin's own models (bridges/api.py `LoginStep`)."""
from __future__ import annotations

from quart import Blueprint, Response, request

from .forms import form_fields, parse_form
from .layout import error_page
from .pages import current_viewer, flash, hearth, render, see_other, signed_in

bp = Blueprint("webui_me_bridges", __name__, template_folder="templates")


async def _page(errors: dict[str, dict[str, str]] | None = None, values: dict[str, dict] | None = None,
                status: int = 200) -> Response:
    viewer = await current_viewer()
    host = hearth().bridges.host
    bridges = []
    for runner_status in host.statuses():
        runner = host.runners.get(runner_status.id)
        if runner is None:
            continue
        steps = []
        for step in await host.login_steps(runner_status.id, viewer.user_id):
            key = f"{runner_status.id}/{step.id}"
            fields = form_fields(step.form, (values or {}).get(key), (errors or {}).get(key),
                                 prefix=f"{step.id}.") if step.form else []
            steps.append({"step": step, "fields": fields, "action": f"/me/bridges/{runner_status.id}/{step.id}"})
        bridges.append({"id": runner_status.id, "name": runner.info.name, "description": runner.info.description,
                        "steps": steps, "bot": f"@{runner_status.id}bot:{hearth().settings.server_name}"})
    return await render("me_bridges.html", section="me", status=status, bridges=bridges)


@bp.get("/me/bridges")
@signed_in()
async def bridges_page() -> Response:
    return await _page()


@bp.post("/me/bridges/<bridge_id>/<step_id>")
@signed_in()
async def submit_step(bridge_id: str, step_id: str) -> Response:
    viewer = await current_viewer()
    host = hearth().bridges.host
    step = next((s for s in await host.login_steps(bridge_id, viewer.user_id) if s.id == step_id), None)
    if step is None or step.form is None:
        return await error_page(404, "Not found", "That bridge step is not there (is the bridge switched on?).")
    form = await request.form
    model, errors = parse_form(step.form, form, prefix=f"{step.id}.")
    if model is None:
        raw = {k.removeprefix(f"{step.id}."): form.get(k) for k in form if k.startswith(f"{step.id}.")}
        key = f"{bridge_id}/{step_id}"
        return await _page(errors={key: errors}, values={key: raw}, status=400)
    said = await host.login_submit(bridge_id, viewer.user_id, step_id, model)
    await flash(said or "Saved.", "ok")
    return see_other("/me/bridges")
