"""Thumbnails with Pillow: the spec's `crop` and `scale` methods, never upscaled.

Spec: content_repo.md "Thumbnails". `scale` keeps the aspect ratio and fits the image in the
requested box; `crop` returns the requested aspect ratio, filling the box and cutting off the
overflow around the centre. A request is first rounded up to one of the spec's standard sizes when
one fits (so a few files are cached per image, not one per size asked). Animated sources give a
still thumbnail unless `animated=true` is asked; then an animated WebP, as the spec prefers.

Pure functions of (file, request): blocking, run them in a thread.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

# Pillow loads on the first thumbnail, not at start-up (about 4 MiB most runs never need).
if TYPE_CHECKING:
    from PIL import Image

# Types we decode. SVG and everything else is refused (400), never rasterised.
THUMBNAIL_SOURCES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/apng": "PNG", "image/gif": "GIF",
                     "image/webp": "WEBP"}
STANDARD_SIZES = ((32, 32, "crop"), (96, 96, "crop"), (320, 240, "scale"), (640, 480, "scale"),
                  (800, 600, "scale"))
MAX_SOURCE_PIXELS = 50_000_000      # a 7000x7000 photo; a larger one is "too large to thumbnail"
MAX_DIMENSION = 4096                # larger requests are served at this size at most
MAX_FRAMES = 300                    # animated thumbnails keep at most this many frames


class CannotThumbnail(Exception):
    """The content is not an image we thumbnail (spec: 400)."""


class TooLargeToThumbnail(Exception):
    """The source image has too many pixels (spec: 413 M_TOO_LARGE)."""


@dataclass(frozen=True, slots=True)
class ThumbnailRequest:
    width: int
    height: int
    method: str          # "crop" | "scale"
    animated: bool

    def cache_name(self) -> str:
        return f"{self.width}x{self.height}-{self.method}{'-animated' if self.animated else ''}"


@dataclass(frozen=True, slots=True)
class Thumbnail:
    data: bytes
    content_type: str


def normalise(width: int, height: int, method: str, animated: bool) -> ThumbnailRequest:
    """Round the requested size up to a standard size of the same method when one is at least as
    large (and, for crop, of the same aspect ratio); clamp very large requests."""
    width, height = min(width, MAX_DIMENSION), min(height, MAX_DIMENSION)
    for w, h, m in STANDARD_SIZES:
        if m != method or w < width or h < height:
            continue
        if method == "crop" and w * height != h * width:
            continue
        return ThumbnailRequest(w, h, m, animated)
    return ThumbnailRequest(width, height, method, animated)


def _geometry(ow: int, oh: int, req: ThumbnailRequest) -> tuple[tuple[int, int, int, int], tuple[int, int]]:
    """(crop box in source pixels, output size) for a source of ow x oh."""
    if req.method == "scale":
        factor = min(req.width / ow, req.height / oh, 1.0)
        return (0, 0, ow, oh), (max(1, round(ow * factor)), max(1, round(oh * factor)))
    # crop: the largest centred region with the requested aspect ratio, then shrink it to the box.
    if ow * req.height > oh * req.width:
        cw, ch = max(1, round(oh * req.width / req.height)), oh
    else:
        cw, ch = ow, max(1, round(ow * req.height / req.width))
    left, top = (ow - cw) // 2, (oh - ch) // 2
    box = (left, top, left + cw, top + ch)
    if cw <= req.width and ch <= req.height:   # smaller than asked: crop only, never upscale
        return box, (cw, ch)
    return box, (req.width, req.height)


def make_thumbnail(path: Path, content_type: str, req: ThumbnailRequest) -> Thumbnail | None:
    """The thumbnail's bytes, or None when the original itself is the answer (it is a still or an
    animation that was asked for, and already no larger than the request)."""
    fmt = THUMBNAIL_SOURCES.get(content_type.split(";", 1)[0].strip().lower())
    if fmt is None:
        raise CannotThumbnail(f"Cannot generate thumbnails for {content_type}")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path, formats=[fmt]) as im:
            ow, oh = im.size
            if ow * oh > MAX_SOURCE_PIXELS:
                raise TooLargeToThumbnail("Image is too large to thumbnail")
            animated_source = bool(getattr(im, "is_animated", False)) and getattr(im, "n_frames", 1) > 1
            box, size = _geometry(ow, oh, req)
            if box == (0, 0, ow, oh) and size == (ow, oh) and (req.animated or not animated_source):
                return None
            if req.animated and animated_source:
                return _animated(im, req)
            return _still(im, fmt, req)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, Image.DecompressionBombError):
            raise TooLargeToThumbnail("Image is too large to thumbnail") from None
        raise CannotThumbnail("Cannot decode the image") from None


def _still(im: Image.Image, fmt: str, req: ThumbnailRequest) -> Thumbnail:
    from PIL import Image, ImageOps

    im.seek(0)
    frame = ImageOps.exif_transpose(im) if fmt == "JPEG" else im.copy()
    box, size = _geometry(frame.width, frame.height, req)
    has_alpha = frame.mode in ("RGBA", "LA", "PA") or "transparency" in frame.info
    frame = frame.convert("RGBA" if has_alpha else "RGB").resize(size, Image.Resampling.LANCZOS, box=box)
    out = io.BytesIO()
    if fmt == "JPEG" and not has_alpha:
        frame.save(out, "JPEG", quality=85, optimize=True)
        return Thumbnail(out.getvalue(), "image/jpeg")
    frame.save(out, "PNG", optimize=True)
    return Thumbnail(out.getvalue(), "image/png")


def _animated(im: Image.Image, req: ThumbnailRequest) -> Thumbnail:
    from PIL import Image, ImageSequence

    box, size = _geometry(im.width, im.height, req)
    frames, durations = [], []
    for i, frame in enumerate(ImageSequence.Iterator(im)):
        if i >= MAX_FRAMES:
            break
        frames.append(frame.convert("RGBA").resize(size, Image.Resampling.LANCZOS, box=box))
        durations.append(max(20, int(frame.info.get("duration", 100) or 100)))
    out = io.BytesIO()
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:], duration=durations,
                   loop=int(im.info.get("loop", 0) or 0), quality=80)
    return Thumbnail(out.getvalue(), "image/webp")


def image_size(path: Path, content_type: str) -> tuple[int, int] | None:
    """Width and height of an image we can decode (for URL previews); None otherwise."""
    fmt = THUMBNAIL_SOURCES.get(content_type.split(";", 1)[0].strip().lower())
    if fmt is None:
        return None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path, formats=[fmt]) as im:
            return im.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
