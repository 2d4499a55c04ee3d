"""Server name resolution, step by step as in server-server-api.md "Resolving server names"."""
from __future__ import annotations

import pytest

from appliance.core.protocol.server_discovery import (
    Destination,
    ServerName,
    parse_well_known,
    resolve_server_name,
    split_server_name,
)


class Net:
    """Fake DNS and well-known answers; records what was asked, to show which steps ran."""

    def __init__(self, well_known: dict[str, str] | None = None, srv: dict[str, list] | None = None):
        self.well_known_answers = well_known or {}
        self.srv_answers = srv or {}
        self.asked: list[str] = []

    async def well_known(self, host: str) -> ServerName | None:
        self.asked.append("wk:" + host)
        body = self.well_known_answers.get(host)
        return parse_well_known(200, body.encode()) if body is not None else None

    async def srv(self, name: str) -> list[tuple[str, int]]:
        self.asked.append("srv:" + name)
        return self.srv_answers.get(name, [])


async def resolve(name: str, net: Net) -> Destination:
    return await resolve_server_name(name, net.well_known, net.srv)


async def test_step1_ip_literals_are_used_as_they_are():
    net = Net()
    assert await resolve("1.2.3.4", net) == Destination("1.2.3.4", 8448, "1.2.3.4", "1.2.3.4")
    assert await resolve("1.2.3.4:8000", net) == Destination("1.2.3.4", 8000, "1.2.3.4:8000", "1.2.3.4")
    assert await resolve("[::1]:8000", net) == Destination("::1", 8000, "[::1]:8000", "::1")
    assert await resolve("[2001:db8::1]", net) == Destination("2001:db8::1", 8448, "[2001:db8::1]", "2001:db8::1")
    assert net.asked == []


async def test_step2_explicit_port_skips_well_known_and_srv():
    net = Net(well_known={"example.org": '{"m.server": "other.example:1"}'})
    assert await resolve("example.org:8000", net) == Destination("example.org", 8000, "example.org:8000", "example.org")
    assert net.asked == []


async def test_step3_delegation_to_ip_and_explicit_port():
    net = Net(well_known={"a.example": '{"m.server": "5.6.7.8"}', "b.example": '{"m.server": "matrix.b.example:443"}'})
    assert await resolve("a.example", net) == Destination("5.6.7.8", 8448, "5.6.7.8", "5.6.7.8")
    assert await resolve("b.example", net) == Destination(
        "matrix.b.example", 443, "matrix.b.example:443", "matrix.b.example")
    assert net.asked == ["wk:a.example", "wk:b.example"]


async def test_step3_delegation_then_srv_matrix_fed_first():
    net = Net(well_known={"c.example": '{"m.server": "Hs.C.Example"}'},
              srv={"_matrix-fed._tcp.hs.c.example": [("box.c.example.", 8449)],
                   "_matrix._tcp.hs.c.example": [("old.c.example", 1)]})
    assert await resolve("c.example", net) == Destination("box.c.example", 8449, "hs.c.example", "hs.c.example")
    assert net.asked == ["wk:c.example", "srv:_matrix-fed._tcp.hs.c.example"]


async def test_step3_deprecated_srv_then_default_port():
    net = Net(well_known={"d.example": '{"m.server": "hs.d.example"}', "e.example": '{"m.server": "hs.e.example"}'},
              srv={"_matrix._tcp.hs.d.example": [("old.d.example", 8450)]})
    assert await resolve("d.example", net) == Destination("old.d.example", 8450, "hs.d.example", "hs.d.example")
    assert await resolve("e.example", net) == Destination("hs.e.example", 8448, "hs.e.example", "hs.e.example")


async def test_steps_4_to_6_without_well_known():
    net = Net(srv={"_matrix-fed._tcp.f.example": [("fed.f.example", 9000)],
                   "_matrix._tcp.g.example": [("old.g.example", 9001)]})
    assert await resolve("f.example", net) == Destination("fed.f.example", 9000, "f.example", "f.example")
    assert await resolve("g.example", net) == Destination("old.g.example", 9001, "g.example", "g.example")
    assert await resolve("h.example", net) == Destination("h.example", 8448, "h.example", "h.example")
    assert net.asked[-3:] == ["wk:h.example", "srv:_matrix-fed._tcp.h.example", "srv:_matrix._tcp.h.example"]


@pytest.mark.parametrize(("status", "body"), [
    (404, b'{"m.server": "x.example"}'), (200, b"not json"), (200, b"[]"), (200, b"{}"),
    (200, b'{"m.server": 5}'), (200, b'{"m.server": "bad name!"}'), (200, b'{"m.server": "x.example:99999999"}'),
    (200, None), (200, b"\xff\xfe"),
])
def test_unusable_well_known_is_skipped(status, body):
    assert parse_well_known(status, body) is None


@pytest.mark.parametrize("name", ["", "bad name", "a.example:", "a.example:port", "[::1", None])
async def test_junk_server_names(name):
    with pytest.raises(ValueError):
        await resolve(name, Net())


def test_split_server_name():
    assert split_server_name("Example.ORG:80") == ServerName("example.org", 80, False)
    assert split_server_name("[::1]").with_port() == "[::1]"
