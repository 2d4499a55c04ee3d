"""A real IRC server for tests (Debian's ngIRCd) on a loopback port, with a throwaway config,
and a plain IRC client to talk to it. Tests that need it skip cleanly without `ngircd`."""
from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import free_port
from tests.needs import unavailable

OPER_PASSWORD = "test-oper-password"  # an IRC operator (OPER hearthop …) may KILL a connection in tests
CONFIG = """[Global]
\tName = irc.hearth.test
\tInfo = Hearth test IRC server
\tListen = 127.0.0.1
\tPorts = {port}
\tPidFile = {folder}/ngircd.pid
\tMotdPhrase = "Test server"
\tServerUID = {uid}
[Limits]
\tMaxConnectionsIP = 0
\tMaxNickLength = 30
[Operator]
\tName = hearthop
\tPassword = {oper_password}
[Options]
\tPAM = no
\tIdent = no
\tDNS = no
"""


@dataclass
class IrcServer:
    port: int
    process: subprocess.Popen

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_irc_server(folder: Path) -> IrcServer:
    binary = shutil.which("ngircd") or ("/usr/sbin/ngircd" if Path("/usr/sbin/ngircd").exists() else None)
    if binary is None:
        unavailable("ngircd is not installed (Debian: apt-get install ngircd; `make test` does it)")
    import os

    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = folder / "ngircd.conf"
    conf.write_text(CONFIG.format(port=port, folder=folder, uid=os.getuid(), oper_password=OPER_PASSWORD))
    log = open(folder / "ngircd.log", "ab")
    proc = subprocess.Popen([binary, "-n", "-f", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return IrcServer(port, proc)
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("ngircd did not start")


@dataclass
class IrcClient:
    """A person on IRC: every line received is kept in `lines`."""

    nick: str
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    lines: list[str] = field(default_factory=list)
    _task: asyncio.Task | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    async def connect(cls, port: int, nick: str) -> IrcClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = cls(nick, reader, writer)
        client._task = asyncio.create_task(client._read())
        await client.send(f"NICK {nick}", f"USER {nick} 0 * :{nick}")
        await client.wait_for(lambda line: " 001 " in line)
        return client

    async def send(self, *lines: str) -> None:
        self.writer.write("".join(line + "\r\n" for line in lines).encode())
        await self.writer.drain()

    async def _read(self) -> None:
        while True:
            raw = await self.reader.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line.startswith("PING"):
                await self.send("PONG" + line[4:])
                continue
            self.lines.append(line)
            self._arrived.set()

    async def wait_for(self, match, timeout: float = 20.0) -> str:
        """The first line (seen so far or later) for which `match(line)` is true."""
        deadline = asyncio.get_running_loop().time() + timeout
        seen = 0
        while True:
            for line in self.lines[seen:]:
                if match(line):
                    return line
            seen = len(self.lines)
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"{self.nick} never saw the line; last lines: {self.lines[-10:]}")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), min(remaining, 0.5))
            except TimeoutError:
                pass

    async def close(self) -> None:
        try:
            await self.send("QUIT :bye")
        except ConnectionError:
            pass
        self.writer.close()
        if self._task is not None:
            self._task.cancel()
