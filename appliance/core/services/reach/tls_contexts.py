"""The TLS contexts of this process's listeners, so that a renewed certificate is served
without a restart.

`hearth run` (appliance/__main__.py) makes the listeners' SSL contexts through `register`; a new
certificate is loaded into each of them (`reload`): OpenSSL uses it for every handshake after
that, while open connections keep theirs. A process without TLS listeners has none registered.
"""
from __future__ import annotations

import logging
import ssl
from pathlib import Path

log = logging.getLogger(__name__)

_contexts: list[ssl.SSLContext] = []


def register(context: ssl.SSLContext) -> ssl.SSLContext:
    _contexts.append(context)
    return context


def serving() -> bool:
    """True when this process has TLS listeners (else a first certificate needs a restart)."""
    return bool(_contexts)


def reload(certfile: Path, keyfile: Path) -> int:
    """Load the certificate into every registered context; returns how many."""
    for context in _contexts:
        context.load_cert_chain(certfile=str(certfile), keyfile=str(keyfile))
    if _contexts:
        log.info("the TLS listeners serve the new certificate now")
    return len(_contexts)
