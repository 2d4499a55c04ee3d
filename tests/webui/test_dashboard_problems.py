"""The dashboard tells recent problems in words, and its headline agrees with them (issue 12)."""
from __future__ import annotations

import logging
import re
import time

from appliance.core.services.request_log import ErrorRecord
from appliance.webui.problems import GENERIC_ERROR, GENERIC_WARNING, describe, recent_problems

from .test_webui_pages import ADMIN_PW, Browser, running


def record(logger: str, message: str, level: str = "WARNING", ts: float | None = None) -> ErrorRecord:
    return ErrorRecord(ts or time.time(), level, logger, message, "84a87522", "")


def test_known_events_are_sentences():
    p = describe(record("appliance.setup_wizard.routes", "wrong setup code from 192.168.1.20"))
    assert p.sentence == "Someone at 192.168.1.20 typed a wrong setup code." and not p.attention
    p = describe(record("appliance.core.storage.database", "database write refused: the disk is full (x)", "ERROR"))
    assert p.sentence.startswith("The disk is full") and p.attention
    p = describe(record("appliance.core.services.backup", "backup failed: /media/usb is not mounted", "ERROR"))
    assert p.sentence == "A backup failed (/media/usb is not mounted). The Backups page has the details."
    p = describe(record("hearth.request", "internal error on GET /admin", "ERROR"))
    assert p.sentence == "Something went wrong inside Hearth while answering a request."


def test_unknown_events_get_a_generic_sentence_and_count_as_problems():
    error = describe(record("somewhere.else", "the kettle is on fire", "ERROR"))
    warning = describe(record("somewhere.else", "odd", "WARNING"))
    assert (error.sentence, warning.sentence) == (GENERIC_ERROR, GENERIC_WARNING)
    assert error.attention and warning.attention
    assert error.detail == "the kettle is on fire"


def test_only_records_since_the_start_count():
    old = record("somewhere.else", "before", ts=100.0)
    new = record("somewhere.else", "after", ts=200.0)
    assert [p.detail for p in recent_problems([new, old], since=150.0)] == ["after"]


def headline(html: str) -> str:
    return re.search(r'class="status status-\w+">([^<]+)<', html).group(1)


async def test_dashboard_headline_agrees_with_the_problems(tmp_path):
    async with running(tmp_path) as (app, h, test_app):
        app.config["HEARTH"].web.process.error_log.clear()
        b = Browser(test_app.test_client())
        await b.login("admin", ADMIN_PW)
        _, html = await b.get("/admin")
        assert headline(html) == "Everything is running"
        assert "Nothing has gone wrong since Hearth started." in html

        # Worth knowing, nothing to fix: the headline stays, the wording is a person's.
        logging.getLogger("appliance.setup_wizard.routes").warning("wrong setup code from %s", "192.168.1.20")
        _, html = await b.get("/admin")
        assert headline(html) == "Everything is running"
        assert "Someone at 192.168.1.20 typed a wrong setup code." in html and "Worth knowing" in html
        problems = html[html.index('id="problems"'):]
        problems = re.sub(r"<details.*?</details>", "", problems, flags=re.S)  # the log line, on request
        assert "Warning" not in problems and "WARNING" not in problems
        assert "appliance.setup_wizard.routes" not in problems and "request 84a87522" not in problems

        # A real problem: the headline says so.
        logging.getLogger("appliance.core.storage.database").error("database commit failed")
        _, html = await b.get("/admin")
        assert headline(html) == "Needs attention"
        assert "Saving to the database failed." in html and "Recent problems" in html
