"""SRV lookups over real DNS: a small DNS server on loopback (dnspython's own message code)
answers the resolver; order by priority and weight; no records, NXDOMAIN and a silent server
(timeout) all mean "no records"."""
from __future__ import annotations

import random
import socket
import threading
import time

import dns.message
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

from appliance.core.services.federation.srv import SrvResolver, order_srv

RECORDS = {
    "_matrix-fed._tcp.example.test.": ["10 5 8449 box.example.test.", "20 0 8448 backup.example.test."],
    "_matrix._tcp.dead.test.": [". "],
}


class DnsServer:
    """UDP on loopback: SRV answers from RECORDS, NXDOMAIN otherwise; `silent` answers nothing."""

    def __init__(self, silent: bool = False) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.asked: list[str] = []
        self.silent = silent
        self.running = True
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while self.running:
            try:
                data, addr = self.sock.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            query = dns.message.from_wire(data)
            name = query.question[0].name.to_text()
            self.asked.append(name)
            if self.silent:
                continue
            response = dns.message.make_response(query)
            if name in RECORDS and query.question[0].rdtype == dns.rdatatype.SRV:
                rrset = response.find_rrset(response.answer, query.question[0].name, dns.rdataclass.IN,
                                            dns.rdatatype.SRV, create=True)
                for text in RECORDS[name]:
                    if text.strip() == ".":
                        text = "0 0 0 ."
                    rrset.add(dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.SRV, text), ttl=60)
            else:
                response.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(response.to_wire(), addr)

    def close(self) -> None:
        self.running = False
        self.sock.close()


@pytest.fixture
def dns_server():
    server = DnsServer()
    yield server
    server.close()


async def test_srv_records_in_priority_order(dns_server):
    resolve = SrvResolver(timeout_s=2, nameservers=["127.0.0.1"], port=dns_server.port)
    assert await resolve("_matrix-fed._tcp.example.test") == [("box.example.test", 8449),
                                                               ("backup.example.test", 8448)]
    assert dns_server.asked == ["_matrix-fed._tcp.example.test."]


async def test_no_such_name_and_not_offered_are_no_records(dns_server):
    resolve = SrvResolver(timeout_s=2, nameservers=["127.0.0.1"], port=dns_server.port)
    assert await resolve("_matrix-fed._tcp.nothing.test") == []
    assert await resolve("_matrix._tcp.dead.test") == []


async def test_a_silent_server_times_out_as_no_records():
    server = DnsServer(silent=True)
    try:
        resolve = SrvResolver(timeout_s=0.6, nameservers=["127.0.0.1"], port=server.port)
        started = time.monotonic()
        assert await resolve("_matrix-fed._tcp.example.test") == []
        assert time.monotonic() - started < 2.0
        assert server.asked  # it was asked, and did not answer
    finally:
        server.close()


def test_order_weights_and_priorities():
    records = [(10, 0, "a.", 1), (5, 1, "b.", 2), (5, 3, "c.", 3), (10, 0, "d.", 4)]
    seen_first = set()
    for seed in range(50):
        order = order_srv(records, random.Random(seed))
        assert {t for t, _ in order[:2]} == {"b", "c"} and [t for t, _ in order[2:]] == ["a", "d"]
        seen_first.add(order[0][0])
    assert seen_first == {"b", "c"}  # weights make the order random within a priority
    assert order_srv([(0, 0, ".", 0)]) == []
