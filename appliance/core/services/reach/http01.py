"""HTTP-01 (RFC 8555 §8.3): the key authorizations Hearth serves at
`/.well-known/acme-challenge/<token>` while the CA checks them, and the self-test's probes.

In memory: a challenge lives for the minute the CA needs; after a restart a new order is made."""
from __future__ import annotations


def is_valid_token(token: str) -> bool:
    # protocol/acme.py is imported on use: it brings `cryptography`, which a server reached at
    # home only never needs (its import is ~25 ms and ~4 MiB of every start)
    from ...protocol.acme import is_valid_token as valid

    return valid(token)


class Http01Challenges:
    def __init__(self) -> None:
        self._answers: dict[str, str] = {}

    def add(self, token: str, key_authorization: str) -> None:
        if not is_valid_token(token):
            raise ValueError("not an ACME token")
        self._answers[token] = key_authorization

    def remove(self, token: str) -> None:
        self._answers.pop(token, None)

    def answer(self, token: str) -> str | None:
        return self._answers.get(token) if is_valid_token(token) else None
