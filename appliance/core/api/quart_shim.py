"""Every use of Quart's, Flask's and Werkzeug's private attributes, in one place.

Hearth reaches under their public API in three spots, each for a measured gain or a behaviour
the public API cannot give. They are private, so a new version may rename or drop them:
`tests/api/test_quart_shim.py` pins the versions this module was checked against
(TESTED_VERSIONS) and exercises each attribute, so that an upgrade fails there, by name, and
this module is re-checked instead of a request path breaking quietly.

- `quart.wrappers.request.Body._complete`: the asyncio.Event set once the whole request body
  has arrived. The JSON reader skips a timeout (a task and a timer per request) for a body that
  is already whole; the media upload drain waits on it once Quart stops buffering an over-long
  body.
- `werkzeug.routing.Rule._compile_builder`, `_build`, `_build_unknown`: the two URL builders
  Werkzeug compiles for every rule at start-up, only ever used by url_for; LazyRule compiles
  them on first use.
- `flask.sansio.blueprints.Blueprint._static_folder`, `_static_url_path`: a blueprint's own
  static settings as given (the public properties resolve them against the app), recorded in
  the route table to rebuild the blueprint.
"""
from __future__ import annotations

import asyncio
from typing import Any

from quart.routing import QuartRule

# The versions this module was checked against (distribution name -> version).
TESTED_VERSIONS = {"quart": "0.22.0", "flask": "3.1.3", "werkzeug": "3.1.9"}


def body_complete_event(body: Any) -> asyncio.Event | None:
    """The event Quart sets when a request body has fully arrived, or None if it has none."""
    complete = getattr(body, "_complete", None)
    return complete if isinstance(complete, asyncio.Event) else None


def body_is_complete(body: Any) -> bool:
    """The whole body has arrived (awaiting it will not suspend)."""
    complete = body_complete_event(body)
    return complete is not None and complete.is_set()


async def wait_body_complete(body: Any) -> None:
    """Wait until the client has sent the rest of a body that Quart no longer buffers."""
    complete = body_complete_event(body)
    if complete is not None:
        await complete.wait()


class LazyRule(QuartRule):
    """A rule whose URL builders (two generated functions per rule, only for url_for) are
    compiled on first use instead of at start-up."""

    def _compile_builder(self, append_unknown: bool = True):  # type: ignore[no-untyped-def]
        attr = "_build_unknown" if append_unknown else "_build"

        def build(rule: QuartRule, *args: Any, **kwargs: Any) -> tuple[str, str]:
            real = QuartRule._compile_builder(rule, append_unknown).__get__(rule, None)
            setattr(rule, attr, real)
            return real(*args, **kwargs)

        return build


def blueprint_static(bp: Any) -> tuple[str | None, str | None]:
    """A blueprint's (static_folder, static_url_path) as it was given."""
    return bp._static_folder, bp._static_url_path
