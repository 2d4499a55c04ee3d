"""Content repository: upload, download, thumbnails, async uploads, legacy freeze, safe serving,
size limit and quota (content-repo.yaml, authed-content-repo.yaml, content_repo.md)."""
from __future__ import annotations

import asyncio
import io
import re
import time
from dataclasses import replace

import pytest
from PIL import Image

from appliance.core.services.media import thumbnails

AUTHED = "/_matrix/client/v1/media"
LEGACY = "/_matrix/media/v3"
CSP = ("sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; "
       "style-src 'unsafe-inline'; media-src 'self'; object-src 'self';")


def image_bytes(size=(400, 300), fmt="PNG", color="red", mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, fmt)
    return buf.getvalue()


def animated_gif(size=(200, 100), frames=4) -> bytes:
    imgs = [Image.new("RGB", size, c) for c in ("red", "green", "blue", "yellow")[:frames]]
    buf = io.BytesIO()
    imgs[0].save(buf, "GIF", save_all=True, append_images=imgs[1:], duration=100, loop=0)
    return buf.getvalue()


async def upload(hs, user, data: bytes, content_type: str | None = "application/octet-stream",
                 filename: str | None = None):
    headers = dict(user.headers) if user else {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    qs = f"?filename={filename}" if filename else ""
    r = await hs.client.post(f"{LEGACY}/upload{qs}", data=data, headers=headers)
    return r.status_code, await r.get_json()


async def upload_ok(hs, user, data: bytes, content_type: str = "application/octet-stream",
                    filename: str | None = None) -> str:
    status, body = await upload(hs, user, data, content_type, filename)
    assert status == 200, body
    assert body["content_uri"].startswith("mxc://hearth.test/")
    return body["content_uri"].removeprefix("mxc://hearth.test/")


async def get(hs, path: str, user=None):
    r = await hs.client.get(path, headers=user.headers if user else {})
    return r, await r.get_data()


def content_files(hs) -> list:
    root = hs.hearth.settings.data_dir / "media" / "content"
    return [p for p in root.rglob("*") if p.is_file()]


# -- upload and download ---------------------------------------------------------------------------

async def test_upload_then_download_authenticated(hs):
    alice = await hs.user("alice")
    data = image_bytes()
    media_id = await upload_ok(hs, alice, data, "image/png", "red.png")
    r, body = await get(hs, f"{AUTHED}/download/hearth.test/{media_id}", alice)
    assert r.status_code == 200
    assert body == data
    assert r.headers["Content-Type"] == "image/png"
    assert r.headers["Content-Disposition"] == 'inline; filename="red.png"'
    assert r.headers["Content-Security-Policy"] == CSP
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cross-Origin-Resource-Policy"] == "cross-origin"


async def test_download_with_file_name_overrides_the_name(hs):
    alice = await hs.user("alice")
    media_id = await upload_ok(hs, alice, b"hello", "text/plain", "a.txt")
    r, body = await get(hs, f"{AUTHED}/download/hearth.test/{media_id}/other.txt", alice)
    assert r.status_code == 200 and body == b"hello"
    assert r.headers["Content-Disposition"] == 'inline; filename="other.txt"'
    # A non-ASCII name is sent per RFC 6266.
    r, _ = await get(hs, f"{AUTHED}/download/hearth.test/{media_id}/caf%C3%A9%20menu.txt", alice)
    assert r.headers["Content-Disposition"] == "inline; filename*=utf-8''caf%C3%A9%20menu.txt"


async def test_no_filename_means_no_filename_in_disposition(hs):
    alice = await hs.user("alice")
    media_id = await upload_ok(hs, alice, b"x", "image/png")
    r, _ = await get(hs, f"{AUTHED}/download/hearth.test/{media_id}", alice)
    assert r.headers["Content-Disposition"] == "inline"


async def test_missing_content_type_is_octet_stream_attachment(hs):
    alice = await hs.user("alice")
    media_id = await upload_ok(hs, alice, b"\x00\x01", content_type=None)
    r, _ = await get(hs, f"{AUTHED}/download/hearth.test/{media_id}", alice)
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.headers["Content-Disposition"] == "attachment"


async def test_authenticated_endpoints_need_a_token(hs):
    alice = await hs.user("alice")
    media_id = await upload_ok(hs, alice, image_bytes(), "image/png")
    for path in (f"/download/hearth.test/{media_id}", f"/download/hearth.test/{media_id}/x.png",
                 f"/thumbnail/hearth.test/{media_id}?width=32&height=32", "/config", "/preview_url?url=http://a.b/"):
        r = await hs.client.get(AUTHED + path)
        assert r.status_code == 401, path
        assert (await r.get_json())["errcode"] == "M_MISSING_TOKEN"
    status, body = await upload(hs, None, b"x")
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")


async def test_config_reports_the_upload_limit(hs):
    alice = await hs.user("alice")
    for prefix in (AUTHED, LEGACY):
        body = await (await hs.client.get(f"{prefix}/config", headers=alice.headers)).get_json()
        assert body == {"m.upload.size": hs.hearth.settings.max_upload_bytes}


async def test_unknown_bad_and_remote_media_ids_are_not_found(hs):
    alice = await hs.user("alice")
    for path in ("/download/hearth.test/nosuchmedia", "/download/hearth.test/bad.id",
                 "/download/elsewhere.example/abc", "/thumbnail/hearth.test/nosuch?width=1&height=1"):
        r = await hs.client.get(AUTHED + path, headers=alice.headers)
        assert r.status_code == 404, path
        assert (await r.get_json())["errcode"] == "M_NOT_FOUND"


async def test_same_bytes_are_stored_once(hs):
    alice, bob = await hs.user("alice"), await hs.user("bob")
    data = image_bytes(color="blue")
    first = await upload_ok(hs, alice, data, "image/png", "one.png")
    second = await upload_ok(hs, bob, data, "image/png", "two.png")
    assert first != second
    assert len(content_files(hs)) == 1
    r1, b1 = await get(hs, f"{AUTHED}/download/hearth.test/{first}", alice)
    r2, b2 = await get(hs, f"{AUTHED}/download/hearth.test/{second}", alice)
    assert b1 == b2 == data
    assert 'filename="one.png"' in r1.headers["Content-Disposition"]
    assert 'filename="two.png"' in r2.headers["Content-Disposition"]
    await upload_ok(hs, alice, b"something else")
    assert len(content_files(hs)) == 2
    # No temp files are left behind.
    assert not list((hs.hearth.settings.data_dir / "media" / "tmp").iterdir())


async def test_guests_cannot_upload(hs):
    guest = await hs.user("guest1", is_guest=True)
    status, body = await upload(hs, guest, b"x")
    assert (status, body["errcode"]) == (403, "M_GUEST_ACCESS_FORBIDDEN")


async def test_bad_filename_is_refused(hs):
    alice = await hs.user("alice")
    status, body = await upload(hs, alice, b"x", filename="a" * 300)
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")


# -- thumbnails --------------------------------------------------------------------------------------

async def thumb(hs, user, media_id, query, prefix=AUTHED):
    r = await hs.client.get(f"{prefix}/thumbnail/hearth.test/{media_id}?{query}", headers=user.headers if user else {})
    return r, await r.get_data()


async def test_thumbnail_scale_keeps_aspect_and_fits_the_box(hs):
    alice = await hs.user("alice")
    media_id = await upload_ok(hs, alice, image_bytes((1000, 500)), "image/png")
    r, body = await thumb(hs, alice, media_id, "width=320&height=240&method=scale")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "image/png"
    assert r.headers["Content-Disposition"] == 'inline; filename="thumbnail.png"'
    assert r.headers["Content-Security-Policy"] == CSP
    assert Image.open(io.BytesIO(body)).size == (320, 160)


async def test_thumbnail_crop_has_the_requested_aspect(hs):
    alice = await hs.user("alice")
    media_id = await upload_ok(hs, alice, image_bytes((1000, 500), "JPEG"), "image/jpeg")
    r, body = await thumb(hs, alice, media_id, "width=96&height=96&method=crop")
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(body)).size == (96, 96)
    # A non-standard request: at least as large as asked, in the asked aspect ratio.
    r, body = await thumb(hs, alice, media_id, "width=100&height=50&method=crop")
    assert Image.open(io.BytesIO(body)).size == (100, 50)
    # A small request is rounded up to a standard size, never down.
    r, body = await thumb(hs, alice, media_id, "width=20&height=20&method=crop")
    w, h = Image.open(io.BytesIO(body)).size
    assert w == h and w >= 20


async def test_thumbnail_never_upscales(hs):
    alice = await hs.user("alice")
    data = image_bytes((20, 10))
    media_id = await upload_ok(hs, alice, data, "image/png")
    r, body = await thumb(hs, alice, media_id, "width=640&height=480&method=scale")
    assert r.status_code == 200
    assert body == data  # smaller than requested: the original
    r, body = await thumb(hs, alice, media_id, "width=96&height=96&method=crop")
    assert Image.open(io.BytesIO(body)).size == (10, 10)


async def test_thumbnail_is_generated_once_and_cached(hs, monkeypatch):
    alice = await hs.user("alice")
    media_id = await upload_ok(hs, alice, image_bytes((800, 800)), "image/png")
    calls = []
    real = thumbnails.make_thumbnail
    monkeypatch.setattr(thumbnails, "make_thumbnail", lambda *a: calls.append(a) or real(*a))
    r1, b1 = await thumb(hs, alice, media_id, "width=96&height=96&method=crop")
    r2, b2 = await thumb(hs, alice, media_id, "width=96&height=96&method=crop")
    r3, b3 = await thumb(hs, alice, media_id, "width=90&height=90&method=crop")  # rounds up to 96x96
    assert r1.status_code == r2.status_code == r3.status_code == 200
    assert b1 == b2 == b3
    assert len(calls) == 1
    cached = list((hs.hearth.settings.data_dir / "media" / "thumbnails").rglob("*.png"))
    assert [p.name for p in cached] == ["96x96-crop.png"]


async def test_thumbnail_parameters_are_validated(hs):
    alice = await hs.user("alice")
    media_id = await upload_ok(hs, alice, image_bytes(), "image/png")
    for query in ("width=32", "width=0&height=32", "width=-5&height=32", "width=abc&height=1",
                  "width=32&height=32&method=stretch"):
        r, body = await thumb(hs, alice, media_id, query)
        assert r.status_code == 400, query


async def test_non_images_and_svg_are_not_thumbnailed(hs):
    alice = await hs.user("alice")
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    for data, ctype in ((b"hello", "text/plain"), (svg, "image/svg+xml"), (b"not a png", "image/png")):
        media_id = await upload_ok(hs, alice, data, ctype)
        r, body = await thumb(hs, alice, media_id, "width=32&height=32")
        assert r.status_code == 400, ctype
        assert (await r.get_json())["errcode"] == "M_UNKNOWN"


async def test_animated_gif_is_still_unless_animation_is_asked(hs):
    alice = await hs.user("alice")
    media_id = await upload_ok(hs, alice, animated_gif((400, 200)), "image/gif")
    r, body = await thumb(hs, alice, media_id, "width=96&height=96&method=crop")
    assert r.headers["Content-Type"] == "image/png"
    still = Image.open(io.BytesIO(body))
    assert not getattr(still, "is_animated", False)
    r, body = await thumb(hs, alice, media_id, "width=96&height=96&method=crop&animated=false")
    assert r.headers["Content-Type"] == "image/png"
    r, body = await thumb(hs, alice, media_id, "width=96&height=96&method=crop&animated=true")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "image/webp"
    anim = Image.open(io.BytesIO(body))
    assert anim.format == "WEBP" and anim.n_frames == 4 and anim.size == (96, 96)


async def test_animated_true_on_a_still_image_gives_a_still(hs):
    alice = await hs.user("alice")
    media_id = await upload_ok(hs, alice, image_bytes((500, 500), "JPEG"), "image/jpeg")
    r, _ = await thumb(hs, alice, media_id, "width=96&height=96&method=crop&animated=true")
    assert r.headers["Content-Type"] == "image/jpeg"


async def test_huge_images_are_too_large_to_thumbnail(hs, monkeypatch):
    alice = await hs.user("alice")
    media_id = await upload_ok(hs, alice, image_bytes((300, 300)), "image/png")
    monkeypatch.setattr(thumbnails, "MAX_SOURCE_PIXELS", 300 * 300 - 1)
    r, _ = await thumb(hs, alice, media_id, "width=32&height=32&method=crop")
    assert r.status_code == 413
    assert (await r.get_json())["errcode"] == "M_TOO_LARGE"


# -- async uploads (create + PUT) --------------------------------------------------------------------

async def create(hs, user) -> tuple[str, dict]:
    r = await hs.client.post("/_matrix/media/v1/create", headers=user.headers)
    body = await r.get_json()
    assert r.status_code == 200, body
    return body["content_uri"].removeprefix("mxc://hearth.test/"), body


async def put(hs, user, media_id, data=b"later", ctype="text/plain", server="hearth.test"):
    r = await hs.client.put(f"{LEGACY}/upload/{server}/{media_id}?filename=later.txt", data=data,
                            headers={**user.headers, "Content-Type": ctype})
    return r.status_code, await r.get_json()


async def test_create_then_upload(hs):
    alice = await hs.user("alice")
    media_id, body = await create(hs, alice)
    now = int(time.time() * 1000)
    assert now + 23 * 3600_000 < body["unused_expires_at"] <= now + 24 * 3600_000 + 1000
    r, _ = await get(hs, f"{AUTHED}/download/hearth.test/{media_id}?timeout_ms=0", alice)
    assert r.status_code == 504
    assert (await r.get_json())["errcode"] == "M_NOT_YET_UPLOADED"
    r, _ = await get(hs, f"{AUTHED}/thumbnail/hearth.test/{media_id}?width=1&height=1&timeout_ms=0", alice)
    assert (await r.get_json())["errcode"] == "M_NOT_YET_UPLOADED"
    assert await put(hs, alice, media_id) == (200, {})
    r, data = await get(hs, f"{AUTHED}/download/hearth.test/{media_id}", alice)
    assert r.status_code == 200 and data == b"later"
    assert r.headers["Content-Disposition"] == 'inline; filename="later.txt"'
    status, body = await put(hs, alice, media_id, b"again")
    assert (status, body["errcode"]) == (409, "M_CANNOT_OVERWRITE_MEDIA")


async def test_download_waits_for_a_pending_upload(hs):
    alice = await hs.user("alice")
    media_id, _ = await create(hs, alice)
    waiting = asyncio.create_task(get(hs, f"{AUTHED}/download/hearth.test/{media_id}?timeout_ms=10000", alice))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    assert (await put(hs, alice, media_id, b"arrived"))[0] == 200
    r, data = await asyncio.wait_for(waiting, 5)
    assert r.status_code == 200 and data == b"arrived"


async def test_upload_to_someone_elses_or_unknown_or_expired_id(hs):
    alice, bob = await hs.user("alice"), await hs.user("bob")
    media_id, _ = await create(hs, alice)
    status, body = await put(hs, bob, media_id)
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = await put(hs, alice, "neverCreated")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = await put(hs, alice, media_id, server="elsewhere.example")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    await hs.hearth.core.db.write(lambda conn: conn.execute(
        "UPDATE media SET unused_expires_at = 1 WHERE media_id = ?", (media_id,)))
    status, body = await put(hs, alice, media_id)
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    r, _ = await get(hs, f"{AUTHED}/download/hearth.test/{media_id}", alice)
    assert r.status_code == 404
    # An uploaded (direct) media ID cannot be overwritten either.
    direct = await upload_ok(hs, alice, b"direct")
    status, body = await put(hs, alice, direct)
    assert (status, body["errcode"]) == (409, "M_CANNOT_OVERWRITE_MEDIA")


async def test_pending_uploads_are_limited(hs):
    alice = await hs.user("alice")
    for _ in range(10):
        await create(hs, alice)
    r = await hs.client.post("/_matrix/media/v1/create", headers=alice.headers)
    body = await r.get_json()
    assert (r.status_code, body["errcode"]) == (429, "M_LIMIT_EXCEEDED")
    assert body["retry_after_ms"] > 0


# -- legacy (unauthenticated) endpoints and the freeze -----------------------------------------------

async def test_legacy_endpoints_are_frozen_by_default(hs):
    alice = await hs.user("alice")
    assert hs.hearth.settings.freeze_legacy_media is True
    media_id = await upload_ok(hs, alice, image_bytes(), "image/png")
    for path in (f"/download/hearth.test/{media_id}", f"/download/hearth.test/{media_id}/a.png",
                 f"/thumbnail/hearth.test/{media_id}?width=32&height=32"):
        r = await hs.client.get(LEGACY + path)
        assert r.status_code == 404, path
        assert (await r.get_json())["errcode"] == "M_NOT_FOUND"
        r = await hs.client.get(AUTHED + path, headers=alice.headers)
        assert r.status_code == 200, path


async def test_media_from_before_the_freeze_stays_on_legacy_endpoints(hs):
    alice = await hs.user("alice")
    media = hs.hearth.media.repository
    media.limits = replace(media.limits, freeze_legacy=False)
    before = await upload_ok(hs, alice, b"<b>old</b>", "text/html", "old.html")
    media.limits = replace(media.limits, freeze_legacy=True)
    after = await upload_ok(hs, alice, b"new", "text/plain")
    r, body = await get(hs, f"{LEGACY}/download/hearth.test/{before}")
    assert r.status_code == 200 and body == b"<b>old</b>"
    assert r.headers["Content-Disposition"] == 'attachment; filename="old.html"'
    assert r.headers["Content-Security-Policy"] == CSP
    r, _ = await get(hs, f"{LEGACY}/download/hearth.test/{after}")
    assert r.status_code == 404


# -- serving safely ------------------------------------------------------------------------------------

@pytest.mark.parametrize("ctype", ["text/html", "image/svg+xml", "application/javascript", "text/javascript",
                                   "text/xml", "application/xml", "application/xhtml+xml", "application/pdf",
                                   "text/html; charset=utf-8", "TEXT/HTML", "application/x-shockwave-flash"])
async def test_dangerous_types_are_attachments(hs, ctype):
    alice = await hs.user("alice")
    media_id = await upload_ok(hs, alice, b"<script>alert(document.cookie)</script>", ctype, "x.html")
    r, _ = await get(hs, f"{AUTHED}/download/hearth.test/{media_id}", alice)
    assert r.status_code == 200
    assert r.headers["Content-Disposition"] == 'attachment; filename="x.html"'
    assert r.headers["Content-Security-Policy"] == CSP
    assert r.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("ctype", ["image/png", "image/jpeg", "video/mp4", "audio/ogg", "text/plain",
                                   "text/plain; charset=utf-8", "application/json"])
async def test_safe_types_are_inline(hs, ctype):
    alice = await hs.user("alice")
    media_id = await upload_ok(hs, alice, b"data", ctype)
    r, _ = await get(hs, f"{AUTHED}/download/hearth.test/{media_id}", alice)
    assert r.headers["Content-Disposition"] == "inline"
    assert r.headers["Content-Type"] == ctype


@pytest.mark.parametrize("ctype,served", [
    ("image/png\u0085", "application/octet-stream"), ("nonsense", "application/octet-stream"),
    ("a/b/c", "application/octet-stream"), ("x" * 300, "application/octet-stream"),
    ("image/png; x", "image/png"),  # a malformed parameter is dropped, the type kept
])
async def test_malformed_content_types_are_cleaned(hs, ctype, served):
    alice = await hs.user("alice")
    status, body = await upload(hs, alice, b"data", ctype.encode("utf-8").decode("latin-1"))
    assert status == 200, body
    media_id = body["content_uri"].rsplit("/", 1)[1]
    r, _ = await get(hs, f"{AUTHED}/download/hearth.test/{media_id}", alice)
    assert r.headers["Content-Type"] == served


# -- junk never gives a 500 ----------------------------------------------------------------------------

async def test_every_media_route_survives_junk(hs):
    alice = await hs.user("alice")
    real = await upload_ok(hs, alice, image_bytes(), "image/png")
    rules = [r for r in hs.client.app.url_map.iter_rules()
             if r.rule.startswith(("/_matrix/media/", "/_matrix/client/v1/media"))]
    # A v3 rule also serves its r0 path (routing.PREFIX_ALIASES): hit both.
    templates = [(r, t) for r in rules for t in {r.rule, r.rule.replace("/_matrix/media/v3/", "/_matrix/media/r0/")}]
    assert len(templates) >= 18
    failures = []
    statuses: dict[int, int] = {}
    for rule, template in templates:
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for value in ("hearth.test", real, "", "x", "%00", "..", "a" * 300, "\u202e\u0000"):
                path = re.sub(r"<([^>]+)>", value, template)
                for query in ({}, {"width": "nan", "height": "-1", "method": "x", "animated": "maybe",
                                   "timeout_ms": "-3", "url": "::::", "filename": "\u0000"},
                              {"width": "99999999999", "height": "1", "timeout_ms": "0", "url": "http://[::1"}):
                    r = await hs.client.open(path, method=method, headers=alice.headers, data=b"\x00junk",
                                             query_string=query)
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                    if r.status_code >= 500 and r.status_code != 504:
                        failures.append((method, path[:80], query, r.status_code))
                    elif r.status_code >= 400:
                        data = await r.get_json(force=True, silent=True)
                        if not (isinstance(data, dict) and "errcode" in data):
                            failures.append((method, path[:80], "no errcode", r.status_code))
    assert not failures, failures[:20]
    assert statuses.get(200, 0) > 10 and statuses.get(400, 0) > 10 and statuses.get(404, 0) > 10, statuses


@pytest.mark.parametrize("path", ["/download/hearth.test/abc", "/download/hearth.test/abc/name.txt",
                                  "/thumbnail/hearth.test/abc?width=8&height=8"])
async def test_authenticated_media_without_a_token_is_401_missing_token(hs, path):
    """Spec (v1.11, authenticated media): the /_matrix/client/v1/media paths require auth."""
    r = await hs.client.get(f"{AUTHED}{path}")
    assert r.status_code == 401
    assert (await r.get_json())["errcode"] == "M_MISSING_TOKEN"


@pytest.mark.parametrize("path", [f"{AUTHED}/download/hearth.test/{{id}}",
                                  f"{AUTHED}/download/hearth.test/{{id}}/x.txt",
                                  f"{AUTHED}/thumbnail/hearth.test/{{id}}?width=8&height=8",
                                  f"{LEGACY}/download/hearth.test/{{id}}",
                                  f"{LEGACY}/download/hearth.test/{{id}}/x.txt",
                                  f"{LEGACY}/thumbnail/hearth.test/{{id}}?width=8&height=8"])
async def test_every_download_path_waits_then_answers_not_yet_uploaded(hs, path):
    """A created but unfilled media ID: wait about timeout_ms, then 504 M_NOT_YET_UPLOADED."""
    hs.hearth.settings.freeze_legacy_media = False  # the legacy paths serve media made now
    alice = await hs.user("alice")
    media_id, _ = await create(hs, alice)
    url = path.format(id=media_id) + ("&" if "?" in path else "?") + "timeout_ms=300"
    started = time.monotonic()
    r, _ = await get(hs, url, alice)
    assert r.status_code == 504
    assert (await r.get_json())["errcode"] == "M_NOT_YET_UPLOADED"
    assert 0.25 <= time.monotonic() - started < 5
    assert hs.hearth.media.repository._uploaded == {}  # a waiter that gave up leaves nothing behind


async def test_a_waiting_thumbnail_is_woken_by_the_upload(hs):
    alice = await hs.user("alice")
    media_id, _ = await create(hs, alice)
    url = f"{AUTHED}/thumbnail/hearth.test/{media_id}?width=8&height=8&timeout_ms=20000"
    waiting = asyncio.create_task(get(hs, url, alice))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    r = await hs.client.put(f"{LEGACY}/upload/hearth.test/{media_id}", data=image_bytes((20, 20)),
                            headers={**alice.headers, "Content-Type": "image/png"})
    assert r.status_code == 200
    r, _ = await asyncio.wait_for(waiting, 5)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("image/")
