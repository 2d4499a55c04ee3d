"""The content repository and URL previews. Built on first use (appliance/hearth.py): no
listeners, no background work, and its modules are not imported at start-up."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.services.media.preview import UrlPreviewService
from ..core.services.media.repository import MediaLimits, MediaService, RemoteFetch, no_remote_media
from ..core.storage.stores.media import ContentFiles, MediaStore
from .core import Core


@dataclass(frozen=True, slots=True, eq=False)
class Media:
    repository: MediaService
    previews: UrlPreviewService


def build_media(core: Core, fetch_remote: RemoteFetch = no_remote_media) -> Media:
    """`fetch_remote`: other servers' media (federation's fetcher when it is on)."""
    s = core.settings

    def limits() -> MediaLimits:  # read at each use: a change in the web pages applies at once
        return MediaLimits(s.max_upload_bytes, s.media_quota_bytes, s.freeze_legacy_media, s.base_url() + "/")

    repository = MediaService(MediaStore(core.db), ContentFiles(s.data_dir / "media"), core.server_name, limits,
                              fetch_remote)
    return Media(repository=repository, previews=UrlPreviewService(repository, lambda: s.url_previews))
