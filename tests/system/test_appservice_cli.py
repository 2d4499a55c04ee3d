"""`hearth appservice install/list/remove` next to a running server: the server serves a
registration before the command returns, and stops serving a removed one."""
from __future__ import annotations

import httpx
import yaml


def test_install_list_remove_on_a_running_server(server, tmp_path):
    path = tmp_path / "irc.yaml"
    path.write_text(yaml.safe_dump({
        "id": "irc", "url": None, "as_token": "as-cli-token", "hs_token": "hs-cli-token",
        "sender_localpart": "_irc_bot",
        "namespaces": {"users": [{"regex": "@_irc_.*", "exclusive": True}], "aliases": [], "rooms": []},
    }))
    out = server.hearth_cli("appservice", "install", str(path))
    assert "installed 'irc'" in out and "not running" not in out
    # Served already: the as_token works and the namespace is held.
    r = httpx.get(server.base_url + "/_matrix/client/v3/account/whoami",
                  headers={"Authorization": "Bearer as-cli-token"}, timeout=10)
    assert r.status_code == 200 and r.json()["user_id"] == "@_irc_bot:hearth.test"
    r = httpx.get(server.base_url + "/_matrix/client/v3/register/available?username=_irc_x", timeout=10)
    assert r.json()["errcode"] == "M_EXCLUSIVE"
    # Idempotent.
    assert "installed 'irc'" in server.hearth_cli("appservice", "install", str(path))
    assert "irc\t(no URL)\tbot @_irc_bot:hearth.test" in server.hearth_cli("appservice", "list")
    # A clash is refused with the reason, and the command fails.
    clash = tmp_path / "clash.yaml"
    clash.write_text(path.read_text().replace("id: irc", "id: other"))
    try:
        server.hearth_cli("appservice", "install", str(clash))
        raise AssertionError("a clashing registration was installed")
    except RuntimeError as exc:
        assert "not installed" in str(exc) and "'irc'" in str(exc)
    assert "Removed 'irc'" in server.hearth_cli("appservice", "remove", "irc")
    r = httpx.get(server.base_url + "/_matrix/client/v3/account/whoami",
                  headers={"Authorization": "Bearer as-cli-token"}, timeout=10)
    assert r.status_code == 401
