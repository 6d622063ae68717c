"""Settings: defaults, GYOSEI_* environment variables, a TOML file, and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.errors import ConfigError
from retrieval.settings import DEFAULT_MODEL, Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    import os

    for key in list(os.environ):
        if key.startswith("GYOSEI_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def test_defaults_are_the_embedded_offline_setup():
    s = Settings.load()
    assert s.index.backend == "edge" and s.index.url is None
    assert s.embedding.model == DEFAULT_MODEL
    assert (s.embedding.query_prompt, s.embedding.passage_prompt) == ("query: ", "passage: ")
    assert s.security.max_confidentiality == 2
    assert s.data_dir == Path("data_samples")


def test_environment_overrides_nested_values(monkeypatch):
    monkeypatch.setenv("GYOSEI_INDEX__URL", "http://qdrant.internal:6333")
    monkeypatch.setenv("GYOSEI_INDEX__API_KEY", "secret-key")
    monkeypatch.setenv("GYOSEI_EMBEDDING__MODEL", "cl-nagoya/ruri-v3-310m")
    monkeypatch.setenv("GYOSEI_CHUNK__SIZE", "500")
    s = Settings.load()
    assert s.index.backend == "qdrant", "a URL selects the server backend"
    assert s.index.api_key.get_secret_value() == "secret-key"
    assert "secret-key" not in repr(s), "secrets never appear in logs"
    assert s.embedding.model == "cl-nagoya/ruri-v3-310m"
    assert s.chunk.size == 500


def test_toml_file_is_read_and_env_wins(monkeypatch, tmp_path):
    (tmp_path / "gyosei.toml").write_text(
        'data_dir = "/srv/docs"\n[embedding]\nmodel = "/models/ruri"\nquery_prompt = "検索クエリ: "\n[chunk]\nsize = 400\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("GYOSEI_CHUNK__SIZE", "420")
    s = Settings.load()
    assert s.data_dir == Path("/srv/docs")
    assert s.embedding.query_prompt == "検索クエリ: "
    assert s.chunk.size == 420


def test_config_path_from_environment(monkeypatch, tmp_path):
    cfg = tmp_path / "elsewhere.toml"
    cfg.write_text("[security]\nmax_confidentiality = 3\n", encoding="utf-8")
    monkeypatch.setenv("GYOSEI_CONFIG", str(cfg))
    assert Settings.load().security.max_confidentiality == 3


def test_invalid_values_are_rejected(monkeypatch):
    monkeypatch.setenv("GYOSEI_SECURITY__MAX_CONFIDENTIALITY", "4")
    with pytest.raises(ConfigError, match="max_confidentiality"):
        Settings.load()


def test_unknown_keys_are_rejected(tmp_path):
    (tmp_path / "gyosei.toml").write_text('data_dri = "typo"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="data_dri"):
        Settings.load()


def test_an_unknown_time_zone_is_a_japanese_config_error():
    with pytest.raises(ConfigError, match="タイムゾーン 'Asia/Tokio' は不明です"):
        Settings.load(export={"timezone": "Asia/Tokio"})
    assert Settings.load(export={"timezone": "UTC"}).export.timezone == "UTC"
