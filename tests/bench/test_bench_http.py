"""The benchmark's raw HTTP/1.1 client reads the framings servers use: Content-Length with
keep-alive, chunked encoding split across packets, and a body ended by closing the connection."""
from __future__ import annotations

import asyncio

from bench.http import HttpClient, HttpError, get_status

import pytest


async def serve(answers: list[list[bytes]]):
    """A server answering each request (read up to its blank line and body) with the next list of
    packets; a None packet closes the connection."""
    queue = list(answers)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while queue:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            for packet in queue.pop(0):
                if packet is None:
                    writer.close()
                    return
                writer.write(packet)
                await writer.drain()
                await asyncio.sleep(0.01)
        await reader.read()  # then hold the connection open until the client drops it
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_content_length_chunked_and_close_framing():
    server, port = await serve([
        [b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"a\": 1}\r\n\r"],
        [b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"b\"", b"\r\n4\r\n: 2}\r\n", b"0\r\n\r\n"],
        [b"HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\nno such thing", None],
    ])
    client = HttpClient(f"http://127.0.0.1:{port}", timeout=5)
    try:
        first = await client.request("PUT", "/x", b'{"k": 1}')
        assert (first.status, first.body) == (200, b'{"a": 1}\r\n\r')
        second = await client.request("GET", "/y")
        assert (second.status, second.json()) == (201, {"b": 2})
        assert len(client.idle) == 1  # the same keep-alive connection served both
        third = await client.request("GET", "/z")
        assert (third.status, third.text) == (404, "no such thing")
        assert client.idle == []  # closed by the server: not kept
    finally:
        await client.close()
        server.close()


async def test_a_dropped_connection_is_an_error_and_every_request_times_out():
    server, port = await serve([[None], [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n12"]])
    client = HttpClient(f"http://127.0.0.1:{port}", timeout=0.3)
    try:
        with pytest.raises(HttpError):
            await client.request("GET", "/a")
        with pytest.raises(asyncio.TimeoutError):
            await client.request("GET", "/b")  # three of the five body bytes never come
    finally:
        await client.close()
        server.close()


def test_get_status_of_nothing_listening_is_none():
    assert get_status("127.0.0.1", 1, "/") is None
