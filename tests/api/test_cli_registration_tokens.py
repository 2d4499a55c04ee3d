"""`hearth registration-token create | list | revoke`: the same invite codes as the web pages."""
from __future__ import annotations

import re

import pytest

from appliance.__main__ import main

INVITE_CODE = re.compile(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}")


@pytest.fixture
def hearth_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HEARTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HEARTH_SERVER_NAME", "hearth.test")

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        rc = main(list(args))
        out = capsys.readouterr()
        return rc, out.out.strip(), out.err.strip()
    return run


def test_create_prints_a_code_shaped_like_the_web_ones(hearth_cli):
    rc, code, _ = hearth_cli("registration-token", "create", "--uses", "2", "--expires", "7d")
    assert rc == 0 and INVITE_CODE.fullmatch(code), code


def test_list_shows_usable_codes_and_revoke_withdraws_one(hearth_cli):
    _, first, _ = hearth_cli("registration-token", "create", "--uses", "3")
    _, second, _ = hearth_cli("registration-token", "create")
    rc, listing, _ = hearth_cli("registration-token", "list")
    assert rc == 0
    lines = listing.splitlines()
    assert lines[0].split()[:2] == ["CODE", "USED"]
    assert any(line.startswith(first) and "0 of 3" in line and "never" in line for line in lines), listing
    assert any(line.startswith(second) and "0 of unlimited" in line for line in lines), listing

    rc, said, _ = hearth_cli("registration-token", "revoke", first.lower())  # as someone might type it
    assert rc == 0 and first in said
    _, listing, _ = hearth_cli("registration-token", "list", "--all")
    assert first not in listing and second in listing

    rc, _, err = hearth_cli("registration-token", "revoke", first)
    assert rc == 1 and "No invite code" in err


def test_list_with_no_codes_says_so(hearth_cli):
    rc, out, _ = hearth_cli("registration-token", "list")
    assert rc == 0 and out == "No usable invite codes."
