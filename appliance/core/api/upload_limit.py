"""The media upload routes take files up to `max_upload_bytes`, streamed to disk by the media
service; every other request body is capped at a few MiB (JSON). Installed on the app at start-up
(create_app), since the request class applies before the upload handlers' module is loaded.
"""
from __future__ import annotations

from quart import Quart


def install_upload_limit(app: Quart) -> None:
    """The app caps request bodies at a few MiB (JSON); the upload routes take files up to
    `max_upload_bytes`, streamed to disk by the service. Swap in a request class that raises
    the cap for those two routes only."""
    base = app.request_class

    class MediaUploadRequest(base):  # type: ignore[misc, valid-type]
        def __init__(self, method, scheme, path, *args, max_content_length=None, **kwargs):
            if max_content_length is not None and is_upload(method, path):
                max_content_length = max(max_content_length, app.config["SETTINGS"].max_upload_bytes)
            super().__init__(method, scheme, path, *args, max_content_length=max_content_length, **kwargs)

    app.request_class = MediaUploadRequest


def is_upload(method: str, path: str) -> bool:
    return (method in ("POST", "PUT") and path.startswith(("/_matrix/media/v3/upload", "/_matrix/media/r0/upload")))
