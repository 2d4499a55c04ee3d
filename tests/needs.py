"""What a test needs from the machine, and what happens when it is missing.

`make test` installs everything the suite needs (Debian's chromium, systemd, iproute2) and CI
runs it as root, so in CI (`CI` set) a missing tool or capability is a failure: a skip there would
hide a test that never ran. On a developer's machine it is a skip that says what is missing.
"""
from __future__ import annotations

import os

import pytest


def unavailable(reason: str) -> None:
    """Stop the current test (or module, at import) because the machine lacks something."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must have it: `make test` installs it and runs as root)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)
