"""Federation (issue 18): the outbound client, the key ring over the remote keys store. Built on
first use (appliance/hearth.py): nothing of it is imported or runs while federation is unused."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.services.federation.client import FederationClient
from ..core.services.federation.keyring import KeyRing
from ..core.storage.stores.remote_server_keys import RemoteServerKeyStore
from .core import Core


@dataclass(frozen=True, slots=True, eq=False)
class Federation:
    client: FederationClient
    keyring: KeyRing


def build_federation(core: Core) -> Federation:
    client = FederationClient(core.settings, core.signing_key)

    async def fetch_keys(server_name: str) -> object:
        status, body = await client.request("GET", server_name, "/_matrix/key/v2/server")
        if status != 200:
            raise OSError(f"{server_name} answered {status} for its keys")
        return body

    keyring = KeyRing(RemoteServerKeyStore(core.db), fetch_keys, core.server_name, core.signing_key)
    return Federation(client=client, keyring=keyring)
