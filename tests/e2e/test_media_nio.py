"""Media through a real Hearth process with matrix-nio: an image uploaded and thumbnailed over the
authenticated endpoints, a dangerous file served as a sandboxed attachment, the quota and the
upload size limit hit with clear errors."""
from __future__ import annotations

import asyncio
import io

import httpx
import pytest
from nio import (AsyncClient, DownloadResponse, ResizingMethod, RoomSendResponse,
                 ThumbnailResponse, UploadError, UploadResponse)
from PIL import Image

from tests.conftest import start_server
from tests.e2e.nio_support import new_user

pytestmark = pytest.mark.timeout(120)

PASSWORD = "correct horse battery staple"
CSP = ("sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; "
       "style-src 'unsafe-inline'; media-src 'self'; object-src 'self';")


def png(size=(640, 480)) -> bytes:
    img = Image.new("RGB", size, "white")
    for x in range(size[0]):
        img.putpixel((x, x * size[1] // size[0]), (200, 0, 0))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


async def nio_upload(client: AsyncClient, data: bytes, content_type: str, filename: str):
    resp, _keys = await client.upload(lambda *_: io.BytesIO(data), content_type=content_type,
                                      filename=filename, filesize=len(data))
    return resp


async def test_image_upload_and_thumbnail_over_authenticated_endpoints(server):
    anna = await new_user(server.base_url, "anna", password=PASSWORD)
    ben = await new_user(server.base_url, "ben", password=PASSWORD)
    try:
        data = png()
        up = await nio_upload(anna, data, "image/png", "sunset.png")
        assert isinstance(up, UploadResponse), up
        assert up.content_uri.startswith("mxc://hearth.test/")
        media_id = up.content_uri.rsplit("/", 1)[1]

        room = await anna.room_create(invite=[ben.user_id])
        await ben.join(room.room_id)
        sent = await anna.room_send(room.room_id, "m.room.message", {
            "msgtype": "m.image", "body": "sunset.png", "url": up.content_uri,
            "info": {"mimetype": "image/png", "w": 640, "h": 480, "size": len(data)}})
        assert isinstance(sent, RoomSendResponse), sent

        # nio fetches thumbnails and downloads from /_matrix/client/v1/media with its token.
        thumb = await ben.thumbnail("hearth.test", media_id, 96, 96, ResizingMethod.crop)
        assert isinstance(thumb, ThumbnailResponse), thumb
        assert thumb.content_type == "image/png"
        assert Image.open(io.BytesIO(thumb.body)).size == (96, 96)
        scaled = await ben.thumbnail("hearth.test", media_id, 320, 240, ResizingMethod.scale)
        assert Image.open(io.BytesIO(scaled.body)).size == (320, 240)
        full = await ben.download(up.content_uri)
        assert isinstance(full, DownloadResponse), full
        assert full.body == data and full.filename == "sunset.png"

        async with httpx.AsyncClient(base_url=server.base_url) as http:
            r = await http.get(f"/_matrix/client/v1/media/thumbnail/hearth.test/{media_id}",
                               params={"width": 32, "height": 32, "method": "crop"},
                               headers={"Authorization": f"Bearer {ben.access_token}"})
            assert r.status_code == 200 and r.headers["content-type"] == "image/png"
            assert r.headers["content-disposition"] == 'inline; filename="thumbnail.png"'
            assert r.headers["content-security-policy"] == CSP
            assert Image.open(io.BytesIO(r.content)).size == (32, 32)
            # Without a token: 401 on the authenticated API; frozen on the legacy one.
            r = await http.get(f"/_matrix/client/v1/media/thumbnail/hearth.test/{media_id}",
                               params={"width": 32, "height": 32})
            assert (r.status_code, r.json()["errcode"]) == (401, "M_MISSING_TOKEN")
            r = await http.get(f"/_matrix/media/v3/thumbnail/hearth.test/{media_id}",
                               params={"width": 32, "height": 32})
            assert (r.status_code, r.json()["errcode"]) == (404, "M_NOT_FOUND")
    finally:
        await anna.close()
        await ben.close()


async def test_dangerous_file_comes_back_as_a_sandboxed_attachment(server):
    anna = await new_user(server.base_url, "anna", password=PASSWORD)
    try:
        page = b"<html><script>fetch('/_matrix/client/v3/account/whoami')</script></html>"
        for ctype, name in (("text/html", "invite.html"), ("image/svg+xml", "logo.svg")):
            up = await nio_upload(anna, page, ctype, name)
            assert isinstance(up, UploadResponse), up
            got = await anna.download(up.content_uri)
            assert isinstance(got, DownloadResponse) and got.body == page
            media_id = up.content_uri.rsplit("/", 1)[1]
            async with httpx.AsyncClient(base_url=server.base_url) as http:
                r = await http.get(f"/_matrix/client/v1/media/download/hearth.test/{media_id}",
                                   headers={"Authorization": f"Bearer {anna.access_token}"})
            assert r.status_code == 200
            assert r.headers["content-type"] == ctype
            assert r.headers["content-disposition"] == f'attachment; filename="{name}"'
            assert r.headers["content-security-policy"] == CSP
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["cross-origin-resource-policy"] == "cross-origin"
    finally:
        await anna.close()


async def test_quota_and_size_limit_give_clear_errors(tmp_path):
    # 3 MiB files are allowed (more than the server's 2 MiB cap on JSON bodies), 8 MiB per user.
    srv = start_server(tmp_path / "data", HEARTH_MAX_UPLOAD_BYTES=str(3 * 1024 * 1024),
                       HEARTH_MEDIA_QUOTA_BYTES=str(8 * 1024 * 1024))
    try:
        anna = await new_user(srv.base_url, "anna", password=PASSWORD)
        try:
            big = bytes(range(256)) * (3 * 4096)  # exactly 3 MiB
            for i in range(2):
                up = await nio_upload(anna, big[:-1] + bytes([i]), "application/octet-stream", f"part{i}.bin")
                assert isinstance(up, UploadResponse), up
            too_large = await nio_upload(anna, big + b"!", "application/octet-stream", "big.bin")
            assert isinstance(too_large, UploadError), too_large
            assert too_large.status_code == "M_TOO_LARGE"
            assert "upload limit of 3 MiB" in too_large.message
            over = await nio_upload(anna, big, "application/octet-stream", "third.bin")
            assert isinstance(over, UploadError), over
            assert over.status_code == "M_USER_LIMIT_EXCEEDED"
            assert "quota of 8 MiB" in over.message and "6 MiB" in over.message
            small = await nio_upload(anna, b"still fits", "text/plain", "note.txt")
            assert isinstance(small, UploadResponse), small
            # Each refusal reached the client the first time: answered only after the body
            # was read, not while nio was still sending it (it then saw a broken connection,
            # and retried with a growing back-off).
            # (The server writes its log lines in batches, every 0.2 s: appliance/core/log_output.py.)
            for _ in range(50):
                log = "\n".join(line for f in tmp_path.glob("server-*.log") for line in f.read_text().splitlines()
                                if "/_matrix/media/v3/upload" in line)
                if len(log.splitlines()) >= 5:  # two uploads, the refusals, the small one
                    break
                await asyncio.sleep(0.1)
            assert log.count(" 413 ") == 1 and log.count(" 403 ") == 1, log
        finally:
            await anna.close()
    finally:
        srv.stop()

