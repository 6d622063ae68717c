"""``gyosei api``: serve the JSON API (app/api.py) on loopback for tools and the load test."""

from __future__ import annotations

import click

from app.api import GyoseiApi, serve


@click.command("api")
@click.option("--host", default="127.0.0.1", show_default=True, help="待ち受けるアドレス（既定はこの端末だけ）")
@click.option("--port", default=8502, show_default=True, type=int, help="ポート番号")
def api_command(host: str, port: int) -> None:
    """検索・回答の JSON API を起動します（/api/login、/api/ask、/api/search）。"""
    from app.audit import open_audit_log
    from app.auth import UserStore
    from app.cli_common import console, fail, load_settings
    from app.factory import build_answerer, build_embedder, build_index
    from retrieval.errors import GyoseiError
    from retrieval.types import Access

    settings = load_settings()
    try:
        embedder = build_embedder(settings)
        index = build_index(settings, embedder, read_only=True)
    except GyoseiError as exc:
        fail(exc)
    answerer = build_answerer(settings, embedder, index)
    answerer.answer("準備", Access())  # load the model and the tagger before the first request
    server = serve(GyoseiApi(settings, UserStore(settings.auth.users_file), answerer, open_audit_log(settings.audit)), host, port)
    console.print(f"API を http://{host}:{server.server_port}/api/ で公開しました（Ctrl+C で停止）。", highlight=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        index.close()
