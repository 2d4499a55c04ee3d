"""Third-party identifiers (administrative_contact.yaml, the 3PID parts of registration.yaml and
password_management.yaml).

Hearth sends no email and no SMS, so no account has a third-party identifier: the list is
empty, and every attempt to add, bind or validate one is refused with M_THREEPID_DENIED. Clients
(Element's settings page) read the list, so it must answer.
"""
from __future__ import annotations

from quart import Blueprint

from ...protocol.errors import ThreepidDenied
from ...services.auth import Requester
from ..routing import ACCESS_TOKEN, NO_AUTH, endpoint

bp = Blueprint("client_third_party_ids", __name__)

_DENIED = "This server does not use email addresses or phone numbers"


@endpoint(bp, "GET", "/account/3pid", auth=ACCESS_TOKEN)
async def get_account_3pids(me: Requester) -> dict:
    return {"threepids": []}


def _refusal(operation_id: str):
    """A handler that refuses: one per operation, named after its operationId."""
    async def refuse() -> dict:
        raise ThreepidDenied(_DENIED)

    refuse.__name__ = operation_id
    return refuse


for _path, _op in (("/account/3pid", "post_3pids"), ("/account/3pid/add", "add_3pid"),
                   ("/account/3pid/bind", "bind_3pid"), ("/account/3pid/delete", "delete_3pid_from_account"),
                   ("/account/3pid/unbind", "unbind_3pid_from_account")):
    endpoint(bp, "POST", _path, auth=ACCESS_TOKEN)(_refusal(_op))

for _path, _op in (("/account/3pid/email/requestToken", "request_token_to_3pid_email"),
                   ("/account/3pid/msisdn/requestToken", "request_token_to_3pid_msisdn"),
                   ("/register/email/requestToken", "request_token_to_register_email"),
                   ("/register/msisdn/requestToken", "request_token_to_register_msisdn"),
                   ("/account/password/email/requestToken", "request_token_to_reset_password_email"),
                   ("/account/password/msisdn/requestToken", "request_token_to_reset_password_msisdn")):
    endpoint(bp, "POST", _path, auth=NO_AUTH)(_refusal(_op))
