"""Admin API, event reports (Synapse docs/admin_api/event_reports.md)."""
from __future__ import annotations

from quart import Blueprint

from ....hearth import Hearth
from ...protocol.errors import InvalidParam
from ...services.auth import Requester
from . import admin_endpoint, query_dir, query_int

bp = Blueprint("admin_event_reports", __name__)


def _report_id(report_id: str) -> int:
    if not report_id.isdigit() or len(report_id) > 18:
        raise InvalidParam("The report_id parameter must be a string representing a positive integer.")
    return int(report_id)


@admin_endpoint(bp, "GET", "/v1/event_reports")
async def list_event_reports(me: Requester, raw_args, hearth: Hearth) -> dict:
    page = await hearth.admin.reports.list_event_reports(
        offset=query_int(raw_args.get("from"), "from", 0),
        limit=query_int(raw_args.get("limit"), "limit", 100),
        backwards=query_dir(raw_args.get("dir"), default="b"),
        user_id=raw_args.get("user_id") or None,
        room_id=raw_args.get("room_id") or None,
        event_sender_user_id=raw_args.get("event_sender_user_id") or None,
    )
    return page.to_json()


@admin_endpoint(bp, "GET", "/v1/event_reports/{report_id}")
async def get_event_report(me: Requester, report_id: str, hearth: Hearth) -> dict:
    report, event_json = await hearth.admin.reports.get_event_report(_report_id(report_id))
    return {**report.to_json(), "event_json": event_json}


@admin_endpoint(bp, "DELETE", "/v1/event_reports/{report_id}")
async def delete_event_report(me: Requester, report_id: str, hearth: Hearth) -> dict:
    await hearth.admin.reports.delete_event_report(_report_id(report_id))
    return {}
