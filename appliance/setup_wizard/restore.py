"""The wizard's "restore from a backup" choice: upload an archive and its key, verify, restore.

Same parts as the admin page (webui/admin_backups.py): the quick refusals at once (not a backup,
a wrong key, another server's archive when the operator named this server), then the whole file
is decrypted and checked in the background and staged next to the fresh data; Hearth restarts
into it. The restored server brings its own admin, server name and settings, so setup is over:
after the restart these pages are gone, and the page already shown says how everyone signs in.
"""
from __future__ import annotations

import json
import logging

from quart import Response

from ..webui.admin_backups import (BOOT_ID, UploadProblem, backup_jobs, check_upload, read_restore_form,
                                   restart_hook)
from ..webui.join import public_base_url
from ..webui.layout import error_page, render_page
from .routes import claimed, _hearth, _see_other, bp

log = logging.getLogger(__name__)


def _expected_server() -> str | None:
    """Only a name the operator set (HEARTH_SERVER_NAME) binds the restore; else the backup's applies."""
    settings = _hearth().settings
    return settings.server_name if "server_name" in settings.explicit_fields else None


async def _form(message: str = "", status: int = 200) -> Response:
    return await render_page("setup_restore.html", status=status, message=message, job=None,
                             fixed_name=_expected_server())


@bp.get("/restore")
async def restore_form() -> Response:
    if not await claimed():
        return _see_other("/setup")
    return await _form()


@bp.post("/restore")
async def restore_upload() -> Response:
    if not await claimed():
        return _see_other("/setup")
    if backup_jobs().active() is not None:
        return await _form("A restore is under way already.", status=409)
    data_dir = _hearth().settings.data_dir
    try:
        upload, key = await read_restore_form(data_dir)
    except UploadProblem as exc:
        return await _form(str(exc), status=400)
    problem = await check_upload(upload, key, _expected_server())
    if problem:
        return await _form(problem, status=400)
    job = backup_jobs().start_restore(data_dir, upload, key, _expected_server(), restart_hook())
    log.warning("setup: restoring from an uploaded backup")
    return _see_other(f"/setup/restore/{job.id}")


@bp.get("/restore/<job_id>")
async def restore_progress(job_id: str) -> Response:
    if not await claimed():
        return _see_other("/setup")
    job = backup_jobs().get(job_id)
    if job is None or job.kind != "restore":
        return await error_page(404, "Not found", "There is no page here.")
    return await render_page("setup_restore.html", job=job, boot_id=BOOT_ID, message="",
                             homeserver_url=public_base_url(), fixed_name=_expected_server())


@bp.get("/restore/<job_id>/status")
async def restore_status(job_id: str) -> Response:
    job = backup_jobs().get(job_id) if await claimed() else None
    if job is None or job.kind != "restore":
        return Response('{"errcode": "M_NOT_FOUND", "error": "No such restore"}', status=404,
                        mimetype="application/json")
    return Response(json.dumps(job.public()), mimetype="application/json", headers={"Cache-Control": "no-store"})
