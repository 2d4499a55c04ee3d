"""Reaching Hearth from outside the home (issue 18): the HTTP-01 answers, the certificate from
the ACME CA with its renewal task, and the self-test. Built at start (the renewal runs in the
background); with the default "at home only" its task only waits, and no DNS code is imported."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.services.reach.certificates import CertificateService
from ..core.services.reach.http01 import Http01Challenges
from ..core.services.reach.self_test import SelfTest
from ..core.storage.stores.reach import ReachStore
from ..core.storage.stores.server_settings import ServerSettingsStore
from .core import Background, Core
from .web import Web


@dataclass(frozen=True, slots=True, eq=False)
class Reach:
    http01: Http01Challenges
    certificates: CertificateService
    self_test: SelfTest
    background: tuple[Background, ...]


def build_reach(core: Core, web: Web) -> Reach:
    control = web.process.control

    async def restart() -> None:  # the first certificate: `hearth run` opens its TLS listeners at start
        await control.restart()

    http01 = Http01Challenges()
    certificates = CertificateService(core.settings, ReachStore(core.db), ServerSettingsStore(core.db), http01,
                                      restart if control.restarts_process else None)
    return Reach(http01=http01, certificates=certificates, self_test=SelfTest(core.settings, certificates, http01),
                 background=(certificates.run,))
