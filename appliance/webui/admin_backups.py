"""The admin's Backups page: back up now (in the background, with progress), download the archive,
the emergency kit shown once, past runs (failures too), the scheduled-backup settings, and
restore from an uploaded archive.

A restore is verified and staged next to the current data while Hearth runs, then Hearth restarts
itself into it (core/services/restore_staging.py; the restart is the process's, given by
`hearth run`: `hearth.web.process.control`). The setup wizard's restore (setup_wizard/restore.py) uses the same parts.

Uploads: the restore form is multipart; on its two paths the body limit is lifted to the free
space of the data directory and the file parts are spooled into the data directory itself (not
/tmp, which may be RAM), then hard-linked to a stable name for the background job.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field, field_validator
from quart import Blueprint, Response, request, send_file

from ..core.protocol.errors import MatrixError
from ..core.services import backup as b
from ..core.services import restore_staging as rs
from ..core.services.backup_jobs import BackupJobs, Job, downloads_dir
from .forms import form_fields, parse_form
from .layout import error_page
from .pages import current_viewer, flash, hearth, render, see_other, signed_in

log = logging.getLogger(__name__)

bp = Blueprint("webui_backups", __name__, url_prefix="/admin/backups", template_folder="templates")
state_bp = Blueprint("webui_restore_state", __name__)

BOOT_ID = secrets.token_hex(8)      # a new one in every process: how a page sees the restart happen
SCHEDULE_FIELDS = {"backup_dir": "backup_dir", "backup_interval_hours": "interval_hours", "backup_keep": "keep"}


def backup_jobs() -> BackupJobs:
    return hearth().web.process.backup_jobs.get()




class UploadProblem(Exception):
    """Something wrong with the restore form (shown next to it)."""


async def read_restore_form(data_dir: Path) -> tuple[Path, bytes]:
    """The uploaded archive (hard-linked to a stable name) and the key (typed, or a kit file)."""
    form = await request.form
    files = await request.files
    archive = files.get("archive")
    if archive is None or not archive.filename:
        raise UploadProblem("Choose the backup file (it ends in .hearthbackup).")
    kit = files.get("kit")
    key_text = (form.get("key") or "").strip()
    try:
        if kit is not None and kit.filename:
            raw = kit.stream.read(64 * 1024)
            key = b.read_key_text(raw.decode("utf-8", errors="replace"))
        elif key_text:
            key = b.read_key_text(key_text)
        else:
            raise UploadProblem("Type the key from the emergency kit, or choose the kit file.")
    except b.WrongKey as exc:
        raise UploadProblem(str(exc)) from None
    upload = rs.new_upload_path(data_dir)
    src = getattr(archive.stream, "name", None)
    try:
        if isinstance(src, str) and Path(src).parent == Path(data_dir):
            archive.stream.flush()
            os.link(src, upload)
        else:
            archive.stream.seek(0)
            with open(upload, "wb") as out:
                shutil.copyfileobj(archive.stream, out, 1 << 20)
    except OSError as exc:
        upload.unlink(missing_ok=True)
        raise UploadProblem(f"The upload could not be stored: {exc}") from None
    return upload, key


async def check_upload(upload: Path, key: bytes, expected_server: str | None) -> str | None:
    """The quick refusals (not a backup, another server, wrong key): a message, or None."""
    try:
        await asyncio.to_thread(rs.check_archive, upload, key, expected_server)
    except b.BackupError as exc:
        upload.unlink(missing_ok=True)
        return str(exc) + " Nothing was changed."
    except OSError as exc:
        upload.unlink(missing_ok=True)
        return f"The backup file could not be read: {exc}"
    return None


def restart_hook() -> Callable[[], None] | None:
    """The process's restart (`hearth run`), or None in an app without it: the restore is staged
    and the next start applies it."""
    control = hearth().web.process.control
    return control.restart_process if control.restarts_process else None


@state_bp.get("/restore/state.json")
async def restore_state() -> Response:
    """Which process answers: a page waiting for the restart sees the boot ID change."""
    return Response(f'{{"boot": "{BOOT_ID}"}}', mimetype="application/json",
                    headers={"Cache-Control": "no-store"})


# -- the page ----------------------------------------------------------------------------------

class ScheduleForm(BaseModel):
    backup_dir: str | None = Field(
        None, title="Backup folder", max_length=1024,
        description="A folder on a USB drive or a network share the system has mounted, e.g. /media/usb/hearth. "
                    "Leave empty to turn scheduled backups off.",
        json_schema_extra={"placeholder": "/media/usb/hearth", "autocomplete": "off", "autocapitalize": "none",
                           "spellcheck": "false"})
    interval_hours: float = Field(24, ge=1, le=24 * 30, title="Back up every",
                                  json_schema_extra={"unit": "hours", "inputmode": "numeric"})
    keep: int = Field(7, ge=1, le=365, title="Keep the last",
                      description="Older scheduled backups in the folder are deleted.",
                      json_schema_extra={"unit": "backups", "inputmode": "numeric"})

    @field_validator("backup_dir")
    @classmethod
    def _folder(cls, v: str | None) -> str | None:
        v = (v or "").strip()
        if not v:
            return None
        p = Path(v)
        if not p.is_absolute():
            raise ValueError("Give the full path of the folder, starting with /")
        if not p.is_dir():
            raise ValueError("There is no such folder (is the USB drive or network share mounted?)")
        if not os.access(p, os.W_OK | os.X_OK):
            raise ValueError("Hearth may not write into this folder")
        return str(p)


def _schedule_values() -> dict:
    s = hearth().settings
    hours = s.backup_interval_hours
    return {"backup_dir": str(s.backup_dir) if s.backup_dir else "",
            "interval_hours": int(hours) if float(hours).is_integer() else hours,
            "keep": s.backup_keep}


def _locked() -> tuple[str, ...]:
    svc = hearth().web.server_settings
    return tuple(form_name for key, form_name in SCHEDULE_FIELDS.items() if svc.overridden(key))


async def _runs(limit: int = 25) -> list[dict]:
    out = []
    for r in await hearth().core.backups.recent_runs(limit):
        name = Path(r.path).name if r.path else None
        out.append({"kind": r.kind, "started_ms": r.started_ms, "finished_ms": r.finished_ms,
                    "ok": r.ok, "size": r.size, "error": r.error, "name": name,
                    "downloadable": bool(name and _archive_path(name))})
    return out


def _archive_dirs() -> list[Path]:
    s = hearth().settings
    dirs = [downloads_dir(s.data_dir)]
    if s.backup_dir:
        dirs.insert(0, Path(s.backup_dir))
    return dirs


def _archive_path(name: str) -> Path | None:
    """An archive this page may hand out: by name only, in the backup folder or the downloads folder."""
    if "/" in name or "\\" in name or not name.startswith("hearth-") or not name.endswith(b.SUFFIX):
        return None
    for d in _archive_dirs():
        p = d / name
        if p.is_file():
            return p
    return None


async def _page(*, schedule_fields=None, restore_error: str = "", status: int = 200) -> Response:
    h = hearth()
    locked = _locked()
    fields = schedule_fields or form_fields(ScheduleForm, _schedule_values(), readonly=locked)
    jobs = backup_jobs()
    return await render("admin_backups.html", section="admin", status=status, backup=await h.core.backups.status(),
                        runs=await _runs(), fields=fields, locked=bool(locked), active=jobs.active(),
                        restore_error=restore_error, previous=rs.previous_data(h.settings.data_dir),
                        downloads_dir=str(downloads_dir(h.settings.data_dir)),
                        staged=rs.has_staged_restore(h.settings.data_dir))


@bp.get("")
@signed_in(admin=True)
async def backups_page() -> Response:
    return await _page()


@bp.post("/run")
@signed_in(admin=True)
async def backup_now() -> Response:
    h = hearth()
    try:
        job = backup_jobs().start_backup(h.core.backups, h.settings)
    except b.BackupError as exc:
        await flash(str(exc), "error")
        return see_other("/admin/backups")
    log.info("%s started a backup", (await current_viewer()).user_id)
    return see_other(f"/admin/backups/jobs/{job.id}")


def _job_or_none(job_id: str) -> Job | None:
    return backup_jobs().get(job_id)


@bp.get("/jobs/<job_id>/status")
@signed_in(admin=True)
async def job_status(job_id: str) -> Response:
    job = _job_or_none(job_id)
    if job is None:
        return Response('{"errcode": "M_NOT_FOUND", "error": "No such job"}', status=404,
                        mimetype="application/json")
    return Response(json.dumps(job.public()), mimetype="application/json", headers={"Cache-Control": "no-store"})


@bp.get("/jobs/<job_id>")
@signed_in(admin=True)
async def job_page(job_id: str) -> Response:
    job = _job_or_none(job_id)
    if job is None:
        return await error_page(404, "No such backup", "That backup or restore is not known (any more): "
                                                       "Hearth may have restarted since.")
    key = job.take_key() if job.kind == "backup" and job.state == "done" else None
    kit = b.emergency_kit(key, job.server_name or hearth().server_name, job.archive.name) if key else None
    return await render("admin_backup_job.html", section="admin", job=job, kit=kit,
                        key_text=b.format_key(key) if key else None, boot_id=BOOT_ID,
                        in_downloads=bool(job.archive
                                          and job.archive.parent == downloads_dir(hearth().settings.data_dir)))


@bp.post("/kit")
@signed_in(admin=True)
async def download_kit() -> Response:
    """The kit the page showed, as a file: the key comes back from that page (never kept here)."""
    form = await request.form
    try:
        key = b.parse_key(form.get("key", ""))
    except b.WrongKey:
        return await error_page(400, "No key", "This page has no key to put in a kit.")
    archive = (form.get("archive") or "").strip()[:200] or None
    kit = b.emergency_kit(key, hearth().server_name, archive)
    stem = archive.removesuffix(b.SUFFIX) if archive else f"hearth-{hearth().server_name}"
    return Response(kit, mimetype="text/plain", headers={
        "Content-Disposition": f'attachment; filename="{_safe_filename(stem)}-emergency-kit.txt"'})


@bp.post("/scheduled-kit")
@signed_in(admin=True)
async def download_scheduled_kit() -> Response:
    """The kit of the scheduled backups' key (kept in the data directory, so it can be shown again)."""
    h = hearth()
    key = await asyncio.to_thread(b.load_or_create_stored_key, h.settings.data_dir)
    log.info("%s downloaded the scheduled backups' emergency kit", (await current_viewer()).user_id)
    where = str(h.settings.backup_dir or "the backup folder")
    kit = b.emergency_kit(key, h.server_name, f"every scheduled backup in {where}")
    name = f"hearth-{_safe_filename(h.server_name)}-scheduled-emergency-kit.txt"
    return Response(kit, mimetype="text/plain", headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _safe_filename(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in ".-_" else "_" for ch in text)[:150]


@bp.get("/download/<name>")
@signed_in(admin=True)
async def download_archive(name: str) -> Response:
    path = _archive_path(name)
    if path is None:
        return await error_page(404, "No such backup", "That backup file is not on the server (any more).")
    response = await send_file(path, mimetype="application/octet-stream", as_attachment=True,
                               attachment_filename=path.name, conditional=True)
    return response


@bp.post("/schedule")
@signed_in(admin=True)
async def save_schedule() -> Response:
    form = await request.form
    locked = _locked()
    raw = {k: form.get(k) for k in form if k != "csrf_token"}
    for name, value in _schedule_values().items():
        if name in locked:
            raw[name] = value
    model, errors = parse_form(ScheduleForm, raw)
    if model is None:
        return await _page(schedule_fields=form_fields(ScheduleForm, raw, errors, readonly=locked), status=400)
    values = {"backup_dir": model.backup_dir, "backup_interval_hours": model.interval_hours,
              "backup_keep": model.keep}
    values = {k: v for k, v in values.items() if SCHEDULE_FIELDS[k] not in locked}
    h = hearth()
    try:
        if values:
            await h.web.server_settings.store_values(values)
    except MatrixError as exc:
        return await _page(schedule_fields=form_fields(ScheduleForm, raw, {"backup_dir": exc.error},
                                                       readonly=locked), status=400)
    await h.core.backups.stop()   # the scheduler reads the settings; restart it so a new interval counts now
    h.core.backups.start()
    log.info("%s changed the backup schedule", (await current_viewer()).user_id)
    await flash("Scheduled backups are on." if h.settings.backup_dir else "Scheduled backups are off.")
    return see_other("/admin/backups")


@bp.post("/restore")
@signed_in(admin=True)
async def restore_upload() -> Response:
    h = hearth()
    form = await request.form
    if form.get("confirm") != "on":
        return await _page(restore_error="Tick the box to confirm: the server goes back to the backup's state.",
                           status=400)
    if backup_jobs().active() is not None:
        return await _page(restore_error="Wait for the running backup to finish first.", status=409)
    try:
        upload, key = await read_restore_form(h.settings.data_dir)
    except UploadProblem as exc:
        return await _page(restore_error=str(exc), status=400)
    problem = await check_upload(upload, key, h.settings.server_name)
    if problem:
        return await _page(restore_error=problem, status=400)
    job = backup_jobs().start_restore(h.settings.data_dir, upload, key, h.settings.server_name, restart_hook())
    log.warning("%s started a restore from an uploaded backup", (await current_viewer()).user_id)
    return see_other(f"/admin/backups/jobs/{job.id}")


@bp.post("/previous/<name>/delete")
@signed_in(admin=True)
async def delete_previous(name: str) -> Response:
    if (await request.form).get("confirm") != "on":
        await flash("Tick the box to confirm: the old data is deleted for good.", "error")
    elif await asyncio.to_thread(rs.delete_previous, hearth().settings.data_dir, name):
        await flash("The data from before the restore is deleted.")
    else:
        await flash("That folder is not there (any more).", "error")
    return see_other("/admin/backups")
