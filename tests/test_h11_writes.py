"""appliance/h11_writes.py: hypercorn sends a response's head and body in one write."""
from __future__ import annotations

import asyncio

import h11
from hypercorn.events import RawData
from hypercorn.protocol.h11 import H11Protocol

from appliance import h11_writes


class _Stub:
    """The parts of H11Protocol that _send_h11_event uses: h11's connection and send()."""

    def __init__(self) -> None:
        self.connection = h11.Connection(h11.SERVER)
        self.connection.receive_data(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
        assert isinstance(self.connection.next_event(), h11.Request)
        self.connection.next_event()  # EndOfMessage of the request
        self.sent: list[bytes] = []

    async def send(self, event: RawData) -> None:
        self.sent.append(event.data)


def test_head_and_body_go_out_in_one_write():
    assert h11_writes.install() is True
    assert h11_writes.install() is True  # once
    send = H11Protocol._send_h11_event
    assert send.__wrapped__ is not None and getattr(send.__wrapped__, "__wrapped__", None) is None

    async def respond(stub: _Stub, body: bytes) -> None:
        await send(stub, h11.Response(status_code=200, headers=[(b"content-length", str(len(body)).encode())]))
        assert stub.sent == []  # held
        if body:
            await send(stub, h11.Data(data=body))
        await send(stub, h11.EndOfMessage())

    stub = _Stub()
    asyncio.run(respond(stub, b'{"a":1}'))
    writes = [w for w in stub.sent if w]
    assert len(writes) == 1
    assert writes[0].startswith(b"HTTP/1.1 200 ") and writes[0].endswith(b'\r\n\r\n{"a":1}')

    empty = _Stub()
    asyncio.run(respond(empty, b""))
    assert len(empty.sent) == 1 and empty.sent[0].endswith(b"content-length: 0\r\n\r\n")


def test_a_real_server_answers_through_the_patched_protocol(server):
    import urllib.request

    with urllib.request.urlopen(f"{server.base_url}/_matrix/client/versions", timeout=10) as resp:
        assert resp.status == 200 and b"versions" in resp.read()
