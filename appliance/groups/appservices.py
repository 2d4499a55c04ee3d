"""Application services (application-service-api.md): the registry of installed registrations
(held by the core: access tokens need it), the requests Hearth makes to appservices (queries,
ping), and the transactions that carry events, receipts, presence, typing, to-device messages and
key counts to them. Built after the reading side: typing and presence come from there; the rooms
and accounts, built earlier, get the client and the queries from appliance/hearth.py."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.services.appservices.client import AppServiceClient
from ..core.services.appservices.ping import AppServicePing
from ..core.services.appservices.queries import AppServiceQueries
from ..core.services.appservices.registry import AppServiceRegistry
from ..core.services.appservices.sender import TransactionSender
from ..core.services.appservices.third_party import ThirdPartyLookup
from ..core.storage.stores.appservices import AppServiceStore
from ..core.storage.stores.receipts import ReceiptStore
from ..core.storage.stores.stream_consumers import StreamConsumerStore
from ..core.storage.stores.to_device import ToDeviceStore
from .accounts import Accounts
from .core import Background, Core
from .e2ee import E2ee
from .reading import Reading


@dataclass(frozen=True, slots=True, eq=False)
class AppServices:
    registry: AppServiceRegistry
    client: AppServiceClient
    queries: AppServiceQueries  # users and aliases a bridge makes when asked
    sender: TransactionSender
    ping: AppServicePing
    third_party: ThirdPartyLookup  # /thirdparty/* asked of the appservices with protocols
    store: AppServiceStore  # read by the sender and the bridge doctor through `status`
    background: tuple[Background, ...]


def build_appservices(core: Core, client: AppServiceClient, queries: AppServiceQueries, accounts: Accounts,
                      e2ee: E2ee, reading: Reading) -> AppServices:
    db, registry = core.db, core.appservice_registry
    store = AppServiceStore(db)
    sender = TransactionSender(db, core.stream, StreamConsumerStore(db), store, registry, client, core.event_store,
                               reading.rooms.formatter, ReceiptStore(db), ToDeviceStore(db), accounts.presence,
                               reading.typing, e2ee.device_keys, core.account_store, core.server_name)
    return AppServices(registry=registry, client=client, queries=queries, sender=sender,
                       ping=AppServicePing(registry, client, sender), store=store,
                       third_party=ThirdPartyLookup(registry, client),
                       background=(sender.run, registry.watch))
