"""A real ACME server for tests: Let's Encrypt's Pebble with its test DNS server
(pebble-challtestsrv), both on loopback. `make pebble` installs them (`go install`) into
~/.cache/hearth-tools/bin (or $HEARTH_TOOLS_DIR/bin); tests skip, or fail under CI, without them.

Pebble's API speaks TLS with a certificate from a throwaway test CA (tests/tls_ca.py) that Hearth
trusts through HEARTH_ACME_CA_BUNDLE. Its validation authority looks names up at the test DNS
server, which answers 127.0.0.1 for every name (A) and whatever TXT records Hearth's
`challtestsrv` provider sets; HTTP-01 is fetched from 127.0.0.1 on the port given (Hearth's).
Pebble rejects 5% of nonces on purpose (the client must retry) and reuses no authorization, so
every order is checked again.
"""
from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import free_port
from tests.needs import unavailable
from tests.tls_ca import TestCA

TOOLS = Path(os.environ.get("HEARTH_TOOLS_DIR") or Path.home() / ".cache" / "hearth-tools") / "bin"


def tool(name: str) -> str:
    found = TOOLS / name
    if found.exists():
        return str(found)
    on_path = shutil.which(name)
    if on_path is None:
        unavailable(f"{name} is not installed (`make pebble` installs it into {TOOLS})")
    return on_path


@dataclass
class Pebble:
    directory_url: str
    ca_bundle: Path           # trusts Pebble's API (HEARTH_ACME_CA_BUNDLE)
    management_url: str       # Pebble's own: /roots/0 is the root that signs what it issues
    dns_server: str           # host:port of the test DNS server (HEARTH_REACH_DNS_RESOLVER)
    dns_api: str              # its management API (the challtestsrv provider's address)
    processes: tuple[subprocess.Popen, ...]

    def env(self, **more: str) -> dict[str, str]:
        """The HEARTH_* variables that point Hearth at this CA and DNS server."""
        return {"HEARTH_ACME_DIRECTORY_URL": self.directory_url, "HEARTH_ACME_CA_BUNDLE": str(self.ca_bundle),
                "HEARTH_REACH_DNS_RESOLVER": self.dns_server, "HEARTH_REACH_DNS_API_URL": self.dns_api,
                "HEARTH_REACH_IP_ECHO_URL": "", **more}

    def root_pem(self) -> str:
        return httpx.get(f"{self.management_url}/roots/0", verify=ssl.create_default_context(cafile=str(self.ca_bundle)), timeout=10).text

    def set_address(self, name: str, address: str) -> None:
        httpx.post(f"{self.dns_api}/add-a", json={"host": name + ".", "addresses": [address]}, timeout=10)

    def clear_address(self, name: str) -> None:
        httpx.post(f"{self.dns_api}/clear-a", json={"host": name + "."}, timeout=10)

    def stop(self) -> None:
        for p in self.processes:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()


def start_pebble(folder: Path, http_port: int) -> Pebble:
    """Pebble validating HTTP-01 on 127.0.0.1:`http_port`, and its DNS server."""
    pebble, challtestsrv = tool("pebble"), tool("pebble-challtestsrv")
    folder.mkdir(parents=True, exist_ok=True)
    ca = TestCA(folder / "ca")
    cert, key = ca.issue("localhost", "127.0.0.1")
    dns_port, dns_api_port, api_port, mgmt_port = free_port(), free_port(), free_port(), free_port()
    log = open(folder / "challtestsrv.log", "ab")
    dns = subprocess.Popen([challtestsrv, "-dnsserver", f"127.0.0.1:{dns_port}", "-management",
                            f"127.0.0.1:{dns_api_port}", "-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "",
                            "-defaultIPv6", ""], stdout=log, stderr=subprocess.STDOUT)
    config = {"pebble": {
        "listenAddress": f"127.0.0.1:{api_port}", "managementListenAddress": f"127.0.0.1:{mgmt_port}",
        "certificate": str(cert), "privateKey": str(key), "httpPort": http_port, "tlsPort": free_port(),
        "ocspResponderURL": "", "externalAccountBindingRequired": False, "retryAfter": {"authz": 1, "order": 1},
        "keyAlgorithm": "ecdsa",
        "profiles": {"default": {"description": "default", "validityPeriod": 7776000}}}}
    (folder / "pebble.json").write_text(json.dumps(config))
    env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_AUTHZREUSE": "0", "PEBBLE_WFE_NONCEREJECT": "5"}
    log = open(folder / "pebble.log", "ab")
    server = subprocess.Popen([pebble, "-config", str(folder / "pebble.json"), "-dnsserver", f"127.0.0.1:{dns_port}"],
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    found = Pebble(f"https://127.0.0.1:{api_port}/dir", ca.ca_path, f"https://127.0.0.1:{mgmt_port}",
                   f"127.0.0.1:{dns_port}", f"http://127.0.0.1:{dns_api_port}", (server, dns))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for p in found.processes:
            if p.poll() is not None:
                found.stop()
                raise RuntimeError(f"pebble exited; see {folder}/*.log")
        try:
            httpx.get(found.directory_url, verify=ssl.create_default_context(cafile=str(ca.ca_path)), timeout=1).raise_for_status()
            httpx.post(f"{found.dns_api}/clear-txt", json={"host": "probe."}, timeout=1)
            return found
        except httpx.HTTPError:
            time.sleep(0.1)
    found.stop()
    raise RuntimeError("pebble did not start in 20 s")
