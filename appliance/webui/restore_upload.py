"""Restore uploads (the admin's Backups page and the setup wizard's restore): on their paths the
body limit is lifted to the free space of the data directory and the file parts are spooled into
the data directory itself, and an upload from someone who may not restore is refused before a
byte of it is read. Kept apart from the pages (admin_backups.py, setup_wizard/restore.py) so
that it is installed at start-up while those load on their first request.

Each owner of an upload path installs it with the check of who may upload there
(`install_restore_upload(app, path, may_upload)`): the pages for the Backups page, the setup
wizard for its own restore. This module knows neither.
"""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from quart import Quart, Response, request

from ..core.services import restore_staging as rs

# None: this request may upload; a response: the refusal, sent before the body is read.
UploadCheck = Callable[[], Awaitable[Response | None]]


# -- uploads into the data directory ---------------------------------------------------------------

def install_restore_upload(app: Quart, path: str, may_upload: UploadCheck) -> None:
    """A POST to `path` is a restore upload, refused unless `may_upload()` lets it through.
    The request class and the hook are installed once (the first call) and apply to every
    request, before the pages' own module is loaded."""
    base = app.request_class
    checks: dict[str, UploadCheck] | None = getattr(base, "restore_upload_checks", None)
    if checks is not None:
        checks[path] = may_upload
        return
    checks = {path: may_upload}

    class RestoreUploadRequest(base):  # type: ignore[misc, valid-type]
        restore_upload_checks = checks

        def __init__(self, method, scheme, path, *args, max_content_length=None, **kwargs):
            self._restore_upload = method == "POST" and path in checks
            if self._restore_upload:
                try:
                    free = shutil.disk_usage(app.config["SETTINGS"].data_dir).free
                except OSError:
                    free = 0
                max_content_length = max(max_content_length or 0, free)
            super().__init__(method, scheme, path, *args, max_content_length=max_content_length, **kwargs)

        def make_form_data_parser(self):
            parser = super().make_form_data_parser()
            if self._restore_upload:
                data_dir = Path(app.config["SETTINGS"].data_dir)

                def into_data_dir(total_content_length, content_type, filename, content_length=None):
                    data_dir.mkdir(parents=True, exist_ok=True)
                    return tempfile.NamedTemporaryFile("w+b", dir=data_dir, prefix=rs.UPLOAD_PREFIX, suffix=".part")
                parser.stream_factory = into_data_dir
            return parser

    async def refuse_unauthorised_upload() -> Response | None:
        """Refuse a restore upload from someone who may not restore, before its body is read."""
        if request.method != "POST":
            return None
        check = checks.get(request.path)
        return None if check is None else await check()

    app.request_class = RestoreUploadRequest
    # Runs before every other hook (the CSRF check reads the form): nobody who may not restore
    # gets a byte of their upload written to disk.
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_unauthorised_upload)
