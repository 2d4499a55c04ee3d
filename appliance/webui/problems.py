"""The dashboard's "recent problems": log records (warnings and errors) told as sentences for a
person, and whether any of them needs the admin's attention (the dashboard's headline follows).

Known events are matched by the logger and the start of the message (the wording of the
`log.warning(...)` calls in Hearth); anything else gets a generic sentence. The log line itself
stays available under "Details" and on the request log page.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from ..core.services.request_log import ErrorRecord


@dataclass(frozen=True)
class KnownEvent:
    logger: str                 # the logger's name, or a prefix of it ending in "." ("": any logger)
    pattern: re.Pattern[str]    # matched at the start of the message; named groups fill `sentence`
    sentence: str
    attention: bool             # something the admin should look at (not only worth knowing)


def _event(logger: str, pattern: str, sentence: str, *, attention: bool) -> KnownEvent:
    return KnownEvent(logger, re.compile(pattern, re.S), sentence, attention)


KNOWN_EVENTS: tuple[KnownEvent, ...] = (
    _event("appliance.setup_wizard.routes", r"wrong setup code from (?P<ip>\S+)",
           "Someone at {ip} typed a wrong setup code.", attention=False),
    _event("appliance.core.storage.database", r"database write refused: the disk is full",
           "The disk is full: new messages and uploads are refused until space is freed.", attention=True),
    _event("appliance.core.storage.database", r"database commit failed",
           "Saving to the database failed.", attention=True),
    _event("appliance.core.services.backup", r"backup failed: (?P<why>.*)",
           "A backup failed ({why}). The Backups page has the details.", attention=True),
    _event("appliance.core.services.backup_jobs", r"restore refused: (?P<why>.*)",
           "A restore was refused ({why}); nothing was changed.", attention=False),
    _event("appliance.core.services.backup_jobs", r"a restore of (?P<name>\S+) is staged",
           "A backup of {name} is being restored; Hearth restarts into it.", attention=False),
    _event("appliance.core.services.restore_staging", r"restored the backup of (?P<name>\S+)",
           "The backup of {name} was restored.", attention=False),
    _event("appliance.core.services.restore_staging", r"a staged restore waits",
           "A restore waits for the next start of Hearth.", attention=False),
    _event("appliance.core.services.restore_staging", r"a staged restore is unreadable",
           "A restore could not be read and was removed; the data stayed as it was.", attention=True),
    _event("appliance.webui.admin_backups", r"(?P<who>\S+) started a restore",
           "{who} started a restore from an uploaded backup.", attention=False),
    _event("appliance.setup_wizard.restore", r"setup: restoring",
           "The setup wizard is restoring an uploaded backup.", attention=False),
    _event("hearth", r"restarting into the restored data",
           "Hearth restarted into a restored backup.", attention=False),
    _event("appliance.core.services.pushers", r"giving up pushing",
           "A phone notification could not be delivered: the notification service did not answer.",
           attention=False),
    _event("appliance.core.services.pushers", r"(pusher task|could not build the push)",
           "Sending phone notifications went wrong.", attention=True),
    _event("appliance.core.services.announcements", r"announcement to (?P<user>\S+) failed",
           "An announcement did not reach {user}.", attention=False),
    _event("appliance.core.services.", r"(deactivation|room deletion): (?P<user>\S+) could not leave (?P<room>\S+)",
           "{user} could not be taken out of the room {room}.", attention=False),
    _event("appliance.core.services.", r"profile update of (?P<user>\S+) not sent",
           "A new name or picture of {user} did not reach every room.", attention=False),
    _event("appliance.setup_wizard.steps", r"bridge plugin (?P<name>\S+) failed to load",
           "The bridge {name} could not be loaded.", attention=True),
    _event("appliance.core.services.reach.certificates", r"certificate: (?P<why>.*) \(next try in",
           "Getting the certificate for outside access failed: {why}. Admin → Outside access has the details.",
           attention=True),
    _event("appliance.core.services.reach.certificates", r"dynamic DNS: (?P<why>.*)",
           "The free name could not be pointed at your home ({why}).", attention=True),
    _event("", r"LAN discovery",
           "Hearth could not announce itself on the home network; phones find it by its address instead.",
           attention=False),
    _event("hearth.request", r"internal error on (?P<method>[A-Z]+) (?P<path>\S+)",
           "Something went wrong inside Hearth while answering a request.", attention=True),
)

GENERIC_ERROR = "Something went wrong inside Hearth."
GENERIC_WARNING = "Hearth noticed something unusual."


@dataclass(frozen=True)
class Problem:
    sentence: str
    attention: bool
    ts: float
    request_tag: str | None
    detail: str                 # the log line, for whoever wants it


def _logger_matches(wanted: str, name: str) -> bool:
    return name.startswith(wanted) if wanted.endswith(".") or not wanted else name == wanted


def describe(record: ErrorRecord) -> Problem:
    """One log record as a sentence; unknown records get a generic one (an error needs attention)."""
    for event in KNOWN_EVENTS:
        if _logger_matches(event.logger, record.logger):
            m = event.pattern.match(record.message)
            if m:
                values = {k: (v or "").strip()[:120] for k, v in m.groupdict().items()}
                return Problem(event.sentence.format(**values), event.attention, record.ts, record.request_tag,
                               record.message)
    is_error = logging.getLevelName(record.level) >= logging.ERROR
    return Problem(GENERIC_ERROR if is_error else GENERIC_WARNING, True, record.ts, record.request_tag,
                   record.message)


def recent_problems(records: list[ErrorRecord], since: float) -> list[Problem]:
    """The records logged since `since` (this server's start), as problems, newest first."""
    return [describe(r) for r in records if r.ts >= since]
