"""Reporting events, rooms and users; the admin's list/get/delete."""
from __future__ import annotations


async def test_report_event(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room = await hs.create_room(alice, invite=[bob.user_id])
    await hs.ok("POST", f"/join/{room}", bob)
    eid = await hs.send(alice, room, {"msgtype": "m.text", "body": "rude"})
    assert await hs.ok("POST", f"/rooms/{room}/report/{eid}", bob, {"reason": "this makes me sad", "score": -100}) == {}
    [report] = await hs.hearth.reading.reports.list_reports()
    assert (report.kind, report.reporter, report.room_id, report.event_id) == ("event", bob.user_id, room, eid)
    assert (report.target_user_id, report.reason, report.score) == (alice.user_id, "this makes me sad", -100)
    assert report.received_ts > 0
    # reason and score are optional.
    await hs.ok("POST", f"/rooms/{room}/report/{eid}", bob, {})
    assert await hs.hearth.reading.reports.count_reports() == 2


async def test_report_event_errors(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room = await hs.create_room(alice)
    eid = await hs.send(alice, room, {"msgtype": "m.text", "body": "x"})
    # Not joined to the room.
    await hs.error("POST", f"/rooms/{room}/report/{eid}", bob, {"reason": "r"}, "M_NOT_FOUND", 404)
    # Unknown event, an event of another room, a redacted event.
    await hs.error("POST", f"/rooms/{room}/report/$nope", alice, {"reason": "r"}, "M_NOT_FOUND", 404)
    other = await hs.create_room(alice)
    await hs.error("POST", f"/rooms/{other}/report/{eid}", alice, {"reason": "r"}, "M_NOT_FOUND", 404)
    await hs.ok("PUT", f"/rooms/{room}/redact/{eid}/t1", alice, {})
    await hs.error("POST", f"/rooms/{room}/report/{eid}", alice, {"reason": "r"}, "M_NOT_FOUND", 404)
    eid2 = await hs.send(alice, room, {"msgtype": "m.text", "body": "y"})
    await hs.error("POST", f"/rooms/{room}/report/{eid2}", alice, {"score": 5}, "M_BAD_JSON", 400)
    await hs.error("POST", f"/rooms/{room}/report/{eid2}", alice, {"reason": 5}, "M_BAD_JSON", 400)
    assert await hs.hearth.reading.reports.count_reports() == 0


async def test_event_from_before_a_joined_only_history_cannot_be_reported(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room = await hs.create_room(alice, invite=[bob.user_id], initial_state=[
        {"type": "m.room.history_visibility", "content": {"history_visibility": "joined"}}])
    eid = await hs.send(alice, room, {"msgtype": "m.text", "body": "before bob"})
    await hs.ok("POST", f"/join/{room}", bob)
    await hs.error("POST", f"/rooms/{room}/report/{eid}", bob, {"reason": "r"}, "M_NOT_FOUND", 404)


async def test_report_room_without_being_in_it(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room = await hs.create_room(alice)
    assert await hs.ok("POST", f"/rooms/{room}/report", bob, {"reason": "spam room"}) == {}
    [report] = await hs.hearth.reading.reports.list_reports()
    assert (report.kind, report.room_id, report.reason, report.event_id) == ("room", room, "spam room", None)
    await hs.error("POST", "/rooms/!missing:hearth.test/report", bob, {"reason": "x"}, "M_NOT_FOUND", 404)
    await hs.error("POST", f"/rooms/{room}/report", bob, {}, "M_BAD_JSON", 400)


async def test_report_user(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    assert await hs.ok("POST", f"/users/{alice.user_id}/report", bob, {"reason": ""}) == {}
    [report] = await hs.hearth.reading.reports.list_reports()
    assert (report.kind, report.target_user_id, report.reporter, report.reason) == ("user", alice.user_id,
                                                                                     bob.user_id, "")
    await hs.error("POST", "/users/@ghost:hearth.test/report", bob, {"reason": "x"}, "M_NOT_FOUND", 404)
    await hs.error("POST", "/users/not-a-user/report", bob, {"reason": "x"}, "M_INVALID_PARAM", 400)


async def test_admin_list_get_delete(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room = await hs.create_room(alice)
    for i in range(3):
        await hs.ok("POST", f"/rooms/{room}/report", bob, {"reason": f"r{i}"})
    service = hs.hearth.reading.reports
    reports = await service.list_reports()
    assert [r.reason for r in reports] == ["r2", "r1", "r0"]  # newest first
    page = await service.list_reports(limit=2)
    assert [r.reason for r in page] == ["r2", "r1"]
    assert [r.reason for r in await service.list_reports(limit=2, before_id=page[-1].id)] == ["r0"]
    got = await service.get_report(reports[0].id)
    assert got is not None and got.to_json()["reason"] == "r2" and "event_id" not in got.to_json()
    assert await service.delete_report(reports[0].id) is True
    assert await service.delete_report(reports[0].id) is False
    assert await service.get_report(reports[0].id) is None
    assert await service.count_reports() == 2
