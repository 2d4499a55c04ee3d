"""Restore uploads (the admin's Backups page and the setup wizard's restore): on their two paths
the body limit is lifted to the free space of the data directory and the file parts are spooled
into the data directory itself, and an upload from someone who may not restore is refused before
a byte of it is read. Kept apart from the pages (admin_backups.py, setup_wizard/restore.py) so
that it is installed at start-up while those load on their first request.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from quart import Quart, Response, request

from ..core.services import restore_staging as rs

UPLOAD_PATHS = frozenset({"/admin/backups/restore", "/setup/restore"})


# -- uploads into the data directory ---------------------------------------------------------------

def install_restore_upload(app: Quart) -> None:
    """Installed at start-up (install_web_ui): the request class and the hook apply to every
    request, before the pages' own module is loaded."""
    base = app.request_class

    class RestoreUploadRequest(base):  # type: ignore[misc, valid-type]
        def __init__(self, method, scheme, path, *args, max_content_length=None, **kwargs):
            self._restore_upload = method == "POST" and path in UPLOAD_PATHS
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

    app.request_class = RestoreUploadRequest
    # Runs before every other hook (the CSRF check reads the form): nobody who may not restore
    # gets a byte of their upload written to disk.
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_unauthorised_upload)


async def refuse_unauthorised_upload() -> Response | None:
    """Refuse a restore upload from someone who may not restore, before its body is read."""
    if request.method != "POST" or request.path not in UPLOAD_PATHS:
        return None
    from .layout import error_page

    if request.path == "/setup/restore":
        from ..setup_wizard.routes import _claimed, wizard_exists

        gone = await wizard_exists()
        if gone is not None:
            return gone
        if not await _claimed():
            return await error_page(403, "Setup code needed", "Type the setup code first.")
        return None
    from .pages import current_viewer

    viewer = await current_viewer()
    if viewer is None or not viewer.admin:
        return await error_page(403, "For admins only", "Only an admin can restore a backup.")
    return None
