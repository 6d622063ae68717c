"""The ``Index`` seam and its factory.

``open_index(settings.index, embedder.dimension)`` gives the embedded Qdrant Edge shard by default
or a Qdrant server collection when a URL is configured. Backends are imported only when opened,
so importing this package stays cheap and side-effect free.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retrieval.errors import ConfigError, IndexError_, IndexLockedError
from retrieval.index.base import DENSE_VECTOR, SPARSE_VECTOR, Index

if TYPE_CHECKING:
    from retrieval.settings import IndexSettings

__all__ = ["Index", "open_index", "DENSE_VECTOR", "SPARSE_VECTOR"]


def open_index(settings: "IndexSettings", dimension: int, read_only: bool = False) -> Index:
    """Open (for writing: create if missing) the index described by ``settings``.

    >>> index = open_index(Settings.load().index, dimension=384, read_only=True)

    ``url`` may be a server (``http://qdrant:6333``), ``":memory:"`` or a local folder for
    qdrant-client's local mode (the test stand-in for a server).
    """
    if settings.backend == "edge":
        from retrieval.index.edge import EdgeIndex

        return EdgeIndex(settings.path, dimension, read_only=read_only)
    if settings.backend == "qdrant":
        from retrieval.index.qdrant import QdrantIndex

        client = _client(settings)
        try:
            return QdrantIndex(client, settings.collection, dimension, read_only=read_only, close_client=True)
        except BaseException:
            client.close()
            raise
    raise ConfigError(f"index.backend='{settings.backend}' は使えません。'edge' か 'qdrant' を指定してください。")


def _client(settings: "IndexSettings"):
    from qdrant_client import QdrantClient

    url = settings.url
    if not url:
        raise ConfigError("index.backend='qdrant' には index.url（例: http://qdrant:6333）の設定が必要です。")
    api_key = settings.api_key.get_secret_value() if settings.api_key else None
    try:
        if url == ":memory:":
            return QdrantClient(":memory:")
        if url.startswith(("http://", "https://")):
            return QdrantClient(url=url, api_key=api_key)
        return QdrantClient(path=url)
    except RuntimeError as exc:
        # Local mode locks its folder to one client ("already accessed by another instance").
        if "already accessed" in str(exc):
            raise IndexLockedError(
                f"{url}: 別のプロセスがこの Qdrant ローカルフォルダを使用中です。そのプロセスを終了してから再実行してください。"
            ) from exc
        raise IndexError_(f"{url}: Qdrant に接続できません（{exc}）。") from exc
    except ValueError as exc:
        raise ConfigError(f"index.url='{url}' を解釈できません（{exc}）。") from exc
