"""The one settings object: read once at the edge (CLI, Streamlit), then passed down.

Values come from, in order of precedence: keyword arguments, ``GYOSEI_*`` environment variables
(nested with ``__``, e.g. ``GYOSEI_INDEX__URL``), a TOML file (``GYOSEI_CONFIG`` or
``gyosei.toml`` in the working directory), then the defaults below. Importing this module has no
side effects; nothing is created until a component asks for it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from retrieval.errors import ConfigError

DEFAULT_MODEL = "builtin:multilingual-e5-small"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gyosei-rag"


class IndexSettings(BaseModel):
    """Where chunks live: an embedded Qdrant Edge shard on disk, or a Qdrant server by URL."""

    backend: Literal["edge", "qdrant"] = "edge"
    path: Path = Path("var/index")
    url: str | None = None  # e.g. http://qdrant:6333, or ":memory:" / a local path for tests
    api_key: SecretStr | None = None
    collection: str = "gyosei"

    @model_validator(mode="after")
    def _url_means_server(self) -> "IndexSettings":
        if self.url and self.backend == "edge":
            self.backend = "qdrant"
        return self


class EmbeddingSettings(BaseModel):
    """The dense embedder: the built-in e5 (offline) or any sentence-transformers name/path."""

    model: str = DEFAULT_MODEL
    query_prompt: str = "query: "
    passage_prompt: str = "passage: "
    precision: Literal["fp32", "bf16", "int8"] = "bf16"
    batch_size: int = 16
    max_seq_length: int = 512
    cache_dir: Path = Field(default_factory=_default_cache_dir)


class ChunkSettings(BaseModel):
    """Chunk size in characters of normalized text, and the overlap between neighbours."""

    size: int = 450
    overlap: int = 60
    min_size: int = 40


class SecuritySettings(BaseModel):
    """Confidentiality policy (機密性1-3 of the government's unified standards)."""

    max_confidentiality: int = Field(default=2, ge=1, le=3)
    default_confidentiality: int = Field(default=1, ge=1, le=3)
    default_groups: list[str] = Field(default_factory=lambda: ["all"])


class SearchSettings(BaseModel):
    """Hybrid search: the reciprocal-rank-fusion constant (tuned with ``python -m eval.tune_fusion``)."""

    rrf_k: int = Field(default=60, ge=1, le=1000)


class AnswerSettings(BaseModel):
    """How answers are assembled. ``min_relevance`` is the query-passage cosine (the embedder's)
    below which nothing counts as relevant and the answer says so; calibrated on the dev sets
    with ``eval/calibrate_refusal.py`` for the built-in model (another model needs its own)."""

    passages: int = Field(default=5, ge=1, le=20)
    max_sentences: int = Field(default=4, ge=1, le=12)
    min_relevance: float = Field(default=0.86, ge=-1, le=1)


class LLMSettings(BaseModel):
    """An optional chat model. ``provider="none"`` means extractive answers and drafts only.

    ``openai_compatible``: any OpenAI-style endpoint at ``base_url`` (vLLM serving a domestic model,
    a llama.cpp server, Ollama's ``/v1``, a hosted API). ``langchain``: ``model`` is passed to
    LangChain's ``init_chat_model`` (e.g. ``azure_openai:gpt-4o``, ``ollama:llama3``).
    """

    provider: Literal["none", "openai_compatible", "langchain"] = "none"
    model: str = ""
    base_url: str | None = None
    api_key: SecretStr | None = None
    timeout_s: float = Field(default=60.0, gt=0)
    max_tokens: int = Field(default=1024, gt=0)
    temperature: float = Field(default=0.0, ge=0)
    expand_queries: bool = False  # ask the LLM for extra search terms before searching (slower)

    @property
    def enabled(self) -> bool:
        return self.provider != "none"


class Settings(BaseSettings):
    """Everything configurable. See the README's settings table."""

    model_config = SettingsConfigDict(
        env_prefix="GYOSEI_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    data_dir: Path = Path("data_samples")
    index: IndexSettings = Field(default_factory=IndexSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    chunk: ChunkSettings = Field(default_factory=ChunkSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = os.environ.get("GYOSEI_CONFIG", "gyosei.toml")
        toml = TomlConfigSettingsSource(settings_cls, toml_file=toml_file)
        return (init_settings, env_settings, toml)

    @classmethod
    def load(cls, **overrides: Any) -> "Settings":
        """Read settings once (call this at the edge only); errors become a Japanese ConfigError."""
        try:
            return cls(**overrides)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(全体)'}: {err['msg']}" for err in exc.errors()
            )
            raise ConfigError(
                f"設定に誤りがあります（環境変数 GYOSEI_* または {os.environ.get('GYOSEI_CONFIG', 'gyosei.toml')}）: {problems}"
            ) from exc
