"""Media upload size limit (M_TOO_LARGE) and per-user quota (M_USER_LIMIT_EXCEEDED)."""
from __future__ import annotations

import asyncio

import pytest

from tests.api.test_media_repository import content_files, create, put, upload, upload_ok

# -- size limit and quota ------------------------------------------------------------------------------

@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"max_upload_bytes": 2000, "media_quota_bytes": 5000})


async def test_upload_size_limit(hs):
    alice = await hs.user("alice")
    await upload_ok(hs, alice, b"x" * 2000)
    status, body = await upload(hs, alice, b"y" * 2001)
    assert (status, body["errcode"]) == (413, "M_TOO_LARGE")
    assert "upload limit" in body["error"]
    media_id, _ = await create(hs, alice)
    status, body = await put(hs, alice, media_id, b"z" * 2001)
    assert (status, body["errcode"]) == (413, "M_TOO_LARGE")
    assert not list((hs.hearth.settings.data_dir / "media" / "tmp").iterdir())
    assert len(content_files(hs)) == 1


async def test_upload_quota(hs):
    alice, bob = await hs.user("alice"), await hs.user("bob")
    await upload_ok(hs, alice, b"a" * 2000)
    await upload_ok(hs, alice, b"b" * 2000)
    status, body = await upload(hs, alice, b"c" * 1001)
    assert status == 403
    assert body["errcode"] == "M_USER_LIMIT_EXCEEDED"
    assert "quota" in body["error"] and "MiB" in body["error"]
    assert body["info_uri"].startswith("http")
    await upload_ok(hs, alice, b"d" * 1000)  # exactly at the quota
    await upload_ok(hs, bob, b"e" * 2000)    # the quota is per user
    media_id, _ = await create(hs, alice)
    status, body = await put(hs, alice, media_id, b"f")
    assert (status, body["errcode"]) == (403, "M_USER_LIMIT_EXCEEDED")
    assert len(content_files(hs)) == 4


async def test_parallel_uploads_cannot_overrun_the_quota(hs):
    alice = await hs.user("alice")
    results = await asyncio.gather(*(upload(hs, alice, bytes([i]) * 2000) for i in range(5)))
    assert sorted(s for s, _ in results) == [200, 200, 403, 403, 403]
    assert await hs.hearth.media.repository.store.usage_bytes(alice.user_id) == 4000
