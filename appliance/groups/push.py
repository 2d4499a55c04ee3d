"""Push: the push rules, their evaluation on every event (a stream consumer: notification counts,
/notifications), HTTP pushers, and the pruning of old notifications."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.services.notification_retention import NotificationRetention
from ..core.services.push import PushService
from ..core.services.push_rules import PushRuleService
from ..core.services.pushers import PusherService
from ..core.storage.stores.push import PushStore
from ..core.storage.stores.stream_consumers import StreamConsumerStore
from .accounts import Accounts
from .core import Background, Core


@dataclass(frozen=True, slots=True, eq=False)
class Push:
    rules: PushRuleService
    service: PushService
    pushers: PusherService
    retention: NotificationRetention
    background: tuple[Background, ...]


def build_push(core: Core, accounts: Accounts) -> Push:
    s, db = core.settings, core.db
    store = PushStore(db)
    rules = PushRuleService(accounts.account_data)
    push = PushService(db, store, core.event_store, core.state_store, core.stream, rules, accounts.account_data,
                       s.server_name, StreamConsumerStore(db))  # the stream wakes it
    pushers = PusherService(db, store, push, core.event_store, core.stream)
    retention = NotificationRetention(db, push, lambda: s.notification_retention_days,
                                      lambda: s.notification_prune_interval_hours)
    accounts.devices_deleted.subscribe(pushers.on_devices_deleted)
    return Push(rules=rules, service=push, pushers=pushers, retention=retention,
                background=(push.run, pushers.run, retention.run))
