"""Federation (issue 18): the outbound client, the key ring over the remote keys store, receiving
transactions and PDUs, what other servers read of our rooms, joins/leaves/invites both ways, and
the outbound sender. Built on first use (appliance/hearth.py): nothing of it is imported or runs
while federation is unused."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.services.federation.backfill import Backfiller
from ..core.services.federation.client import FederationClient
from ..core.services.federation.e2ee_keys import FederatedKeys
from ..core.services.federation.joins import FederationJoins
from ..core.services.federation.keyring import KeyRing
from ..core.services.federation.lookups import RemoteLookups
from ..core.services.federation.media import FederationMedia
from ..core.services.federation.receiving import PduReceiver
from ..core.services.federation.room_reads import FederationRoomReads
from ..core.services.federation.sender import FederationSender
from ..core.services.federation.transactions import TransactionReceiver
from ..core.services.presence import PresenceService
from ..core.storage.stores.e2e_keys import E2eKeyStore
from ..core.storage.stores.receipts import ReceiptStore
from ..core.storage.stores.remote_server_keys import RemoteServerKeyStore
from ..core.storage.stores.stream_consumers import StreamConsumerStore
from .core import Core
from .e2ee import E2ee
from .reading import Reading


@dataclass(frozen=True, slots=True, eq=False)
class Federation:
    client: FederationClient
    keyring: KeyRing
    receiver: PduReceiver
    reads: FederationRoomReads
    transactions: TransactionReceiver
    joins: FederationJoins
    sender: FederationSender
    keys: FederatedKeys  # /keys/query and /keys/claim with other servers' users
    lookups: RemoteLookups  # other servers' profiles and aliases
    backfill: Backfiller  # history from before we joined a room
    media: FederationMedia  # other servers' media for our users


def build_federation(core: Core, e2ee: E2ee, reading: Reading, presence: PresenceService) -> Federation:
    client = FederationClient(core.settings, core.signing_key)
    settings = core.settings

    def share_presence() -> bool:  # Admin → Outside access may switch it while Hearth runs
        return settings.federation_presence

    async def fetch_keys(server_name: str) -> object:
        status, body = await client.request("GET", server_name, "/_matrix/key/v2/server")
        if status != 200:
            raise OSError(f"{server_name} answered {status} for its keys")
        return body

    keyring = KeyRing(RemoteServerKeyStore(core.db), fetch_keys, core.server_name, core.signing_key)
    events, name = core.event_store, core.server_name
    receiver = PduReceiver(name, events, core.state_store, core.pipeline, keyring, client.request)
    reads = FederationRoomReads(name, events, core.state_store)
    joins = FederationJoins(name, core.signing_key, events, core.pipeline, core.account_store, receiver, reads,
                            client.request, core.stream.advance)
    sender = FederationSender(name, core.db, core.stream, StreamConsumerStore(core.db), events, ReceiptStore(core.db),
                              E2eKeyStore(core.db), reading.typing, client, presence=presence,
                              share_presence=share_presence)
    e2ee.to_device.remote_messages.subscribe(sender.to_device)
    return Federation(client=client, keyring=keyring, receiver=receiver, reads=reads, joins=joins, sender=sender,
                      keys=FederatedKeys(name, e2ee.device_keys, client), lookups=RemoteLookups(client),
                      backfill=Backfiller(name, events, core.pipeline, receiver, client),
                      media=FederationMedia(client),
                      transactions=TransactionReceiver(name, events, receiver, reading.typing, reading.receipts,
                                                       e2ee.to_device, e2ee.device_keys, presence=presence,
                                                       share_presence=share_presence))
