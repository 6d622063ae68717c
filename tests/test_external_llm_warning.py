"""An LLM endpoint not on this machine is warned about where it is configured and seen:
`gyosei setup` prints it, and every administrator's page shows it (not a clerk's); a loopback
endpoint draws no warning."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from app.governance import external_warning
from retrieval.errors import GyoseiError
from retrieval.settings import Settings

from .app_testing import ADMIN, CLERK, app_env, open_page, texts  # noqa: F401  (fixture)

EXTERNAL = {"GYOSEI_LLM__PROVIDER": "openai_compatible", "GYOSEI_LLM__MODEL": "gpt-x",
            "GYOSEI_LLM__BASE_URL": "https://api.example.com/v1"}


def test_the_warning_names_the_endpoint_and_the_limit():
    remote = Settings(llm={"provider": "openai_compatible", "model": "m", "base_url": "https://api.example.com/v1"})
    warning = external_warning(remote)
    assert "https://api.example.com/v1" in warning and "機密性1まで" in warning
    local = Settings(llm={"provider": "openai_compatible", "model": "m", "base_url": "http://127.0.0.1:8080/v1"})
    assert external_warning(local) is None and external_warning(Settings()) is None


def test_setup_prints_it(tmp_path, monkeypatch):
    import app.cli as cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GYOSEI_CONFIG", raising=False)
    for k, v in EXTERNAL.items():
        monkeypatch.setenv(k, v)

    def stop(settings):
        raise GyoseiError("（テスト: ここで止めます）")

    monkeypatch.setattr(cli, "build_embedder", stop)
    result = CliRunner().invoke(cli.main, ["setup"])
    flat = "".join(result.output.split())
    assert "注意:LLMの接続先（https://api.example.com/v1）はこの端末の外にあります" in flat


@pytest.mark.parametrize("user,shown", [(ADMIN, True), (CLERK, False)], ids=["admin", "clerk"])
def test_pages_show_it_to_administrators(app_env, monkeypatch, user, shown):
    for k, v in EXTERNAL.items():
        monkeypatch.setenv(k, v)
    at = open_page(user, "ui_style.py", timeout=60)  # a page that needs no model
    assert ("この端末の外にあります" in texts(at)) is shown

