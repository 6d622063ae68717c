"""``gyosei serve``: the Streamlit UI, up at once, with the warm start (app/startup.py) behind it.

The model build and the indexing of ``--ingest`` folders run in the server's own process (the
Qdrant Edge index admits one process), so the pages share the index being filled and answer from
what is indexed so far. ``make run`` is ``gyosei serve --ingest data_samples``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click


def _demo_password_note(settings) -> None:
    """In the terminal only (the sign-in page never names it): where the demo password is kept."""
    from app.auth import DEMO_USER, AuthError, UserStore, demo_password_file
    from app.cli_common import console

    store = UserStore(settings.auth.users_file)
    try:
        only_demo = store.names() == [DEMO_USER]
    except AuthError:
        return
    if only_demo and demo_password_file(store).exists():
        console.print(f"初期利用者 {DEMO_USER} のパスワードは {demo_password_file(store)} にあります（本人のみ読めるファイル）。",
                      highlight=False)


def upload_limit_args(settings) -> list[str]:
    """Streamlit's own upload limit (MB) in line with ``limits.max_file_mb`` (our check is the real one)."""
    import math

    return ["--server.maxUploadSize", str(max(1, math.ceil(settings.limits.max_file_mb)))]


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="待ち受けるアドレス（既定はこの端末だけ）")
@click.option("--port", default=8501, show_default=True, type=int, help="ポート番号")
@click.option("--ingest", "paths", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="起動後にバックグラウンドで取り込むフォルダ（複数指定可、消えた文書は索引からも削除）")
def serve_command(host: str, port: int, paths: tuple[Path, ...]) -> None:
    """UI を起動し、埋め込みモデルの準備と文書の取り込みをバックグラウンドで進めます。"""
    from rich.markup import escape

    import app
    from app import startup
    from app.cli_common import console, load_settings
    from retrieval.cpu import detect_cpu

    settings = load_settings()
    console.print(f"CPU: {escape(detect_cpu().summary())}", highlight=False)

    def echo(line: str) -> None:
        console.print(f"[準備] {escape(line)}", highlight=False, soft_wrap=True)

    _demo_password_note(settings)
    startup.start(settings, list(paths), echo=echo)
    console.print(f"UI を http://{host}:{port}/ で起動します（Ctrl+C で停止）。準備の進み具合は各ページにも表示されます。",
                  highlight=False)
    from streamlit.web import cli as streamlit_cli

    # The ASGI entry: Home.py plus the session-cookie endpoints (app/session_routes.py).
    home = Path(app.__file__).resolve().parent / "asgi.py"
    sys.argv = ["streamlit", "run", str(home), "--server.address", host, "--server.port", str(port),
                "--server.headless", "true", "--browser.gatherUsageStats", "false", *upload_limit_args(settings)]
    streamlit_cli.main()  # the server runs in this process, beside the warm start's thread
