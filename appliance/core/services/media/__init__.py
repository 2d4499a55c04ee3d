"""Media: the content repository (repository.py), safe serving (serving.py), thumbnails
(thumbnails.py) and URL previews (preview.py)."""
