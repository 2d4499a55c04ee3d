"""Push: the push rules, their evaluation on every event (notification counts, /notifications),
HTTP pushers, and the pruning of old notifications."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.services.notification_retention import NotificationRetention
from ..core.services.push import PushService
from ..core.services.push_rules import PushRuleService
from ..core.services.pushers import PusherService
from ..core.storage.stores.push import PushStore
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
    s = core.settings
    store = PushStore(core.db)
    rules = PushRuleService(accounts.account_data)
    push = PushService(core.db, store, core.event_store, core.state_store, core.stream, rules, accounts.account_data,
                       core.server_name)
    pushers = PusherService(core.db, store, push, core.event_store, core.stream)
    retention = NotificationRetention(core.db, push, lambda: s.notification_retention_days,
                                      lambda: s.notification_prune_interval_hours)
    core.persisted.subscribe(push.on_event)
    accounts.devices_deleted.subscribe(pushers.on_devices_deleted)
    return Push(rules=rules, service=push, pushers=pushers, retention=retention,
                background=(push.run, pushers.run, retention.run))
