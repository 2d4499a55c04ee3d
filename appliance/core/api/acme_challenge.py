"""HTTP-01 (RFC 8555 §8.3): the CA fetches `http://<domain>/.well-known/acme-challenge/<token>`
on port 80 (the image forwards it to Hearth) and must get the key authorization as it is. Served
under any Host name: the CA asks with the domain being confirmed. Unknown tokens are 404."""
from __future__ import annotations

from quart import Blueprint, Response, current_app

bp = Blueprint("acme_challenge", __name__)


@bp.get("/.well-known/acme-challenge/<token>")
async def acme_challenge(token: str) -> Response:
    answer = current_app.config["HEARTH"].reach.http01.answer(token)
    if answer is None:
        return Response("no such challenge\n", status=404, mimetype="text/plain")
    return Response(answer, mimetype="application/octet-stream", headers={"Cache-Control": "no-store"})
