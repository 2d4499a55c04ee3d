"""How media is served safely: content types, Content-Disposition and the security headers.

Spec: content_repo.md "Serving inline content". A type is served `inline` only if it is on the
spec's allow-list; everything else (HTML, SVG, JavaScript, XML, PDF, unknown) is an `attachment`,
so a browser never renders uploaded script in our origin. Every response also carries a sandbox
CSP and nosniff, so even an inline type cannot be reinterpreted.
"""
from __future__ import annotations

import re
from urllib.parse import quote

# The spec's list of types safe to serve with `Content-Disposition: inline`.
INLINE_TYPES = frozenset({
    "text/css", "text/plain", "text/csv", "application/json", "application/ld+json",
    "image/jpeg", "image/gif", "image/png", "image/apng", "image/webp", "image/avif",
    "video/mp4", "video/webm", "video/ogg", "video/quicktime",
    "audio/mp4", "audio/webm", "audio/aac", "audio/mpeg", "audio/ogg", "audio/wave", "audio/wav",
    "audio/x-wav", "audio/x-pn-wav", "audio/flac", "audio/x-flac",
})

SECURITY_HEADERS = {
    "Content-Security-Policy": ("sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; "
                                "style-src 'unsafe-inline'; media-src 'self'; object-src 'self';"),
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Referrer-Policy": "no-referrer",
}

DEFAULT_TYPE = "application/octet-stream"
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_MEDIA_TYPE = re.compile(rf"^{_TOKEN}/{_TOKEN}$")
_PARAM = re.compile(rf'^{_TOKEN}=(?:{_TOKEN}|"[^"\\\x00-\x1f\x7f]*")$')


def clean_content_type(value: str | None) -> str:
    """The uploaded Content-Type as we will store and serve it: a well-formed `type/subtype`
    with well-formed parameters, lower-cased type; anything else becomes application/octet-stream."""
    if not value or len(value) > 255:
        return DEFAULT_TYPE
    parts = [p.strip() for p in value.split(";")]
    base = parts[0].lower()
    if not _MEDIA_TYPE.match(base):
        return DEFAULT_TYPE
    params = [p for p in parts[1:] if p]
    if any(not _PARAM.match(p) for p in params):
        params = []
    return "; ".join([base, *params])


def base_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def is_inline_safe(content_type: str) -> bool:
    return base_type(content_type) in INLINE_TYPES


def content_disposition(content_type: str, filename: str | None) -> str:
    """`inline` for the allow-list, `attachment` for the rest; the file name per RFC 6266
    (plain `filename="..."` for simple ASCII names, `filename*=utf-8''...` otherwise)."""
    disposition = "inline" if is_inline_safe(content_type) else "attachment"
    if filename:
        disposition += "; " + _filename_param(filename)
    return disposition


def _filename_param(filename: str) -> str:
    if all(0x20 <= ord(c) < 0x7f for c in filename) and '"' not in filename and "\\" not in filename:
        return f'filename="{filename}"'
    return "filename*=utf-8''" + quote(filename, safe="!#$&+-.^_`|~")


def valid_upload_name(name: str) -> bool:
    """A file name we keep: printable, not absurdly long (it ends up in a header)."""
    return 0 < len(name) <= 255 and all(c.isprintable() for c in name)
