"""Media across servers (server-server "Content Repository", authenticated media): our media
served to other servers (`/_matrix/federation/v1/media/download|thumbnail/{mediaId}`, a
multipart/mixed answer: a JSON part, then the bytes), and other servers' media fetched the same
way for our users (MediaService keeps it like our own).

The multipart answer is read whole (media is bounded by the upload limit); a part that redirects
(`Location`) is not followed: that would be an unauthenticated request to wherever it points.
"""
from __future__ import annotations

import logging
import secrets
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from ...protocol.errors import MatrixError, NotFound
from .client import FederationClient, FederationRefused, FederationUnavailable

log = logging.getLogger(__name__)


def multipart(content_type: str, data: bytes) -> tuple[bytes, str]:
    """The body and Content-Type of a federation media answer: `{}` metadata, then the bytes."""
    boundary = secrets.token_hex(16)
    head = (f"--{boundary}\r\nContent-Type: application/json\r\n\r\n{{}}\r\n"
            f"--{boundary}\r\nContent-Type: {content_type}\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/mixed; boundary={boundary}"


def parse_multipart(content_type: str, body: bytes) -> tuple[bytes, str | None, str | None]:
    """(bytes, content type, file name) from a multipart/mixed media answer; ValueError if it
    is not one, or its media part redirects elsewhere."""
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    if not message.is_multipart():
        raise ValueError("not a multipart answer")
    parts: list[Message] = list(message.iter_parts())  # type: ignore[attr-defined]
    if len(parts) < 2:
        raise ValueError("the answer has no media part")
    media = parts[1]
    if media.get("Location"):
        raise ValueError("the media part redirects elsewhere")
    data = media.get_payload(decode=True)
    if not isinstance(data, bytes):
        raise ValueError("the media part is empty")
    return data, media.get_content_type(), media.get_filename()


class FederationMedia:
    def __init__(self, client: FederationClient) -> None:
        self.client = client

    async def fetch(self, server_name: str, media_id: str) -> tuple[bytes, str | None, str | None]:
        """Another server's media for MediaService; NotFound when it cannot be had."""
        try:
            response = await self.client.request_raw("GET", server_name,
                                                     f"/_matrix/federation/v1/media/download/{media_id}")
        except FederationRefused as e:
            raise NotFound(f"Remote media is not available: {e}") from None
        except FederationUnavailable as e:
            raise MatrixError(f"{server_name} could not be reached: {e}", status=502, errcode="M_UNKNOWN") from None
        if response.status_code == 404:
            raise NotFound("Media not found")
        if response.status_code != 200:
            raise MatrixError(f"{server_name} answered {response.status_code}", status=502, errcode="M_UNKNOWN")
        try:
            return parse_multipart(response.headers.get("Content-Type", ""), response.content)
        except ValueError as e:
            log.info("media %s/%s: %s", server_name, media_id, e)
            raise MatrixError(f"{server_name} answered with unusable media: {e}", status=502,
                              errcode="M_UNKNOWN") from None


