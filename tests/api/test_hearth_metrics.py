"""GET /_hearth/metrics: off by default; on, for admins' tokens and the LAN; the figures move with
the server's work (requests by route, the stream, its consumers, the database, the caches)."""
from __future__ import annotations

import asyncio

import pytest
from prometheus_client.parser import text_string_to_metric_families

URL = "/_hearth/metrics"
LOOPBACK = {"client": ("127.0.0.1", 40000)}  # the peer, as hypercorn gives it (the test client gives none)


async def get(hs, headers=None):
    return await hs.client.get(URL, headers=headers or {}, scope_base=LOOPBACK)


async def scrape(hs, headers=None) -> dict:
    r = await get(hs, headers)
    assert r.status_code == 200, (r.status_code, await r.get_data())
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = (await r.get_data()).decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(families: dict, name: str, **labels) -> float:
    matches = [s.value for f in families.values() for s in f.samples
               if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(matches) == 1, (name, labels, matches)
    return matches[0]


@pytest.fixture
def metrics_on(hs):
    hs.hearth.settings.metrics_enabled = True
    return hs


async def test_off_by_default_it_is_not_there(hs, boss):
    for headers in ({}, boss.headers):
        r = await get(hs, headers)
        assert r.status_code == 404
        assert (await r.get_json())["errcode"] == "M_UNRECOGNIZED"


async def test_admins_and_the_lan_may_read_it_others_may_not(metrics_on, boss):
    hs = metrics_on
    alice = await hs.user("alice")
    await scrape(hs)                       # from this machine, without a token
    r = await hs.client.get(URL)           # no peer address at all: not known to be local
    assert (r.status_code, (await r.get_json())["errcode"]) == (401, "M_MISSING_TOKEN")
    await scrape(hs, boss.headers)         # an admin's token
    r = await get(hs, alice.headers)
    assert (r.status_code, (await r.get_json())["errcode"]) == (403, "M_FORBIDDEN")
    r = await get(hs, {"Authorization": "Bearer nope"})
    assert (r.status_code, (await r.get_json())["errcode"]) == (401, "M_UNKNOWN_TOKEN")


async def test_from_outside_the_home_a_token_is_needed(metrics_on, boss):
    hs = metrics_on
    hs.hearth.settings.trusted_proxies = ["127.0.0.0/8", "::1/128"]  # a reverse proxy on this machine
    outside = {"X-Forwarded-For": "8.8.8.8"}  # (documentation ranges count as private in ipaddress)
    r = await get(hs, outside)
    assert (r.status_code, (await r.get_json())["errcode"]) == (401, "M_MISSING_TOKEN")
    await scrape(hs, {**outside, **boss.headers})
    await scrape(hs, {"X-Forwarded-For": "192.168.1.20"})  # a Prometheus on the LAN


async def test_figures_follow_the_work(metrics_on, boss):
    hs = metrics_on
    alice = await hs.user("alice")
    room = await hs.create_room(alice, name="Kitchen")
    before = await scrape(hs)
    for i in range(3):
        await hs.send(alice, room, {"msgtype": "m.text", "body": f"message {i} about search"})
    await hs.ok("GET", "/sync?timeout=0", alice)
    await hs.ok("POST", "/search", alice, {"search_categories": {"room_events": {"search_term": "search"}}})
    after = await scrape(hs)

    assert value(after, "hearth_stream_position") >= value(before, "hearth_stream_position") + 3
    assert value(after, "hearth_db_commits_total") > value(before, "hearth_db_commits_total")
    assert value(after, "hearth_event_persist_seconds_count") >= value(before, "hearth_event_persist_seconds_count") + 3
    assert value(after, "hearth_db_commit_seconds_count") >= 1
    # by route, not by path: the room ID is not in the label
    send_route = "/_matrix/client/v3/rooms/<room_id>/send/<event_type>/<txn_id>"
    assert value(after, "hearth_http_responses_total", method="PUT", route=send_route, status="2xx") == 3
    assert value(after, "hearth_http_request_duration_seconds_count", method="PUT", route=send_route) == 3
    assert not any(room in s.labels.get("route", "") for f in after.values() for s in f.samples)
    # search read its index up to date, so its consumer is not behind
    assert value(after, "hearth_stream_consumer_lag", consumer="search") == 0
    assert value(after, "hearth_stream_consumer_failures", consumer="search") == 0
    assert value(after, "hearth_cache_weight", cache="events") > 0
    # the WAL is copied into the database file by the checkpoint thread once the writer is quiet
    for _ in range(100):
        if hs.hearth.core.db.checkpoints > 0:
            break
        await asyncio.sleep(0.05)
    assert value(await scrape(hs), "hearth_db_checkpoints_total") >= 1
    assert value(after, "hearth_cache_hits_total", cache="events") + value(after, "hearth_cache_misses_total",
                                                                            cache="events") > 0
    assert value(after, "hearth_db_file_bytes") > 0
    assert value(after, "hearth_process_resident_memory_bytes") > 10 * 1024 * 1024
    assert value(after, "hearth_disk_full") == 0
    assert value(after, "hearth_build_info", version=hs.hearth.web.metrics.version) == 1


async def test_the_dashboard_shows_the_same_figures(metrics_on):
    hs = metrics_on
    alice = await hs.user("alice")
    await hs.ok("GET", "/sync?timeout=0", alice)
    summary = hs.hearth.web.metrics.summary()
    assert summary["requests"] >= 1 and summary["errors"] == 0
    assert summary["p99_ms"] is not None and summary["behind"] == []
