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

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from retrieval.errors import ConfigError
from retrieval.types import DEFAULT_RRF_K

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
    # auto: the fastest path this CPU runs well (retrieval/cpu.py); or force one of the others.
    precision: Literal["auto", "bf16", "onnx-int8", "int8", "fp32"] = "auto"
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


class LimitsSettings(BaseModel):
    """Hardening limits: what an uploaded or ingested file and a question may be at most.

    A file over a limit is refused with a Japanese reason (``ingest.safety.check_file``); a parse
    running longer than ``parse_timeout_s`` is stopped (0 turns the time limit off and parses
    in-process) and one using more than ``parse_memory_mb`` of memory fails; a document of more
    than ``max_chunks_per_document`` chunks is refused; a longer question is refused (``retrieval.query_limits.check_query``).
    """

    max_file_mb: float = Field(default=100, gt=0)
    max_zip_entries: int = Field(default=10_000, ge=1)  # DOCX: entries in the ZIP container
    max_unzipped_mb: float = Field(default=512, gt=0)  # DOCX: total size once uncompressed
    max_zip_ratio: float = Field(default=100, gt=1)  # DOCX: per-entry uncompressed/compressed
    parse_timeout_s: float = Field(default=120, ge=0)
    # Address space of the parse worker (RLIMIT_AS): a crafted file fails alone, not the server.
    parse_memory_mb: float = Field(default=2048, ge=0)
    max_chunks_per_document: int = Field(default=100_000, ge=1)  # one document: a 100 MB text file is ~80k chunks
    max_query_chars: int = Field(default=2000, ge=1)
    max_draft_question_chars: int = Field(default=20_000, ge=1)  # a 質問主意書 to draft an answer to
    max_filename_chars: int = Field(default=120, ge=8)


class SearchSettings(BaseModel):
    """Hybrid search: the reciprocal-rank-fusion constant (measured with ``python -m eval.fusion_variants``)."""

    rrf_k: int = Field(default=DEFAULT_RRF_K, ge=1, le=1000)


# The calibrated relevance gate for the built-in e5 (eval/README.md); the drafter and 再質問予測 use it too.
DEFAULT_MIN_RELEVANCE = 0.895
DEFAULT_MID_RELEVANCE = 0.88
DEFAULT_FLOOR_RELEVANCE = 0.85
DEFAULT_MIN_COVERAGE = 0.3


class AnswerSettings(BaseModel):
    """How answers are assembled, and the one relevance judgement (``retrieval/relevance.py``)
    that answers, draft candidates and follow-ups share. At or above ``min_relevance`` (the
    query-passage cosine of the embedder's vectors) a passage counts if ``min_coverage`` of the
    question's content nouns are in the best passages; down to ``mid_relevance`` with 3/4 of
    them, down to ``floor_relevance`` with all; below, never. Calibrated for the built-in model
    with ``python -m eval.answerability_eval --grid`` (another model needs its own): chosen on the
    answerability set and the dev sets together, see eval/README.md.""" 

    passages: int = Field(default=5, ge=1, le=20)
    max_sentences: int = Field(default=4, ge=1, le=12)
    min_relevance: float = Field(default=DEFAULT_MIN_RELEVANCE, ge=-1, le=1)
    mid_relevance: float = Field(default=DEFAULT_MID_RELEVANCE, ge=-1, le=1)
    floor_relevance: float = Field(default=DEFAULT_FLOOR_RELEVANCE, ge=-1, le=1)
    min_coverage: float = Field(default=DEFAULT_MIN_COVERAGE, ge=0, le=1)


class StyleSettings(BaseModel):
    """The 公用文チェック (``prompts/style_rules.yaml``): the sentence length that draws a warning
    (None: the rules file's), and whether the template drafter applies the certain fixes itself."""

    max_sentence_chars: int | None = Field(default=None, ge=20, le=1000)
    auto_fix_drafts: bool = True


LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
LOCAL_MODEL_PREFIXES = ("ollama:", "llamacpp:")  # LangChain models served on this machine


class ExportSettings(BaseModel):
    """Word export and dated reports: body and heading fonts, and the time zone of days and months
    (利用状況, usage reports, the dates on exports)."""

    body_font: str = "游明朝"
    heading_font: str = "游ゴシック"
    timezone: str = "Asia/Tokyo"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"タイムゾーン {value!r} は不明です（例: Asia/Tokyo）") from None
        return value


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
    # The highest 機密性 a passage may have to be sent to the model. None: 1 for an endpoint not
    # on this machine, ``security.max_confidentiality`` for a loopback one (``Settings.llm_limit``).
    max_confidentiality: int | None = Field(default=None, ge=1, le=3)

    @property
    def enabled(self) -> bool:
        return self.provider != "none"

    @property
    def host(self) -> str:
        """The endpoint's host name ("" when none is configured)."""
        from urllib.parse import urlsplit

        return (urlsplit(self.base_url).hostname or "") if self.base_url else ""

    @property
    def external(self) -> bool:
        """True when prompts leave this machine: an endpoint on another host, or a LangChain
        provider with no local endpoint (only ``ollama:`` and ``llamacpp`` models run here)."""
        if not self.enabled:
            return False
        if self.base_url:
            return self.host not in LOOPBACK_HOSTS
        return not self.model.startswith(LOCAL_MODEL_PREFIXES)


class AuditSettings(BaseModel):
    """The audit log (who asked, drafted, exported, ingested or deleted what, and when).

    ``url``: ``sqlite:///var/audit.sqlite3`` (the default, a file next to the index) or a
    PostgreSQL server for several instances, ``postgresql+psycopg://user@host:5432/db`` (needs the
    ``psycopg`` package; put the password in ``password`` or libpq's ~/.pgpass, not in the URL).
    ``retention_days``: ``gyosei audit purge`` removes older events (set by the agency's rules).
    ``user``: the name the CLI records (default: the login name).
    ``key_file`` / ``checkpoint_file``: the HMAC key of the hash chain (created once, 0600) and
    the signed checkpoint; default next to a SQLite file (``var/audit.sqlite3.key``), else
    ``var/audit.key``. Keep the key where the database's administrators cannot write.
    """

    url: str = "sqlite:///var/audit.sqlite3"
    password: SecretStr | None = None
    retention_days: int = Field(default=1095, ge=1)
    user: str | None = None
    key_file: Path | None = None
    checkpoint_file: Path | None = None


class AuthSettings(BaseModel):
    """Who may sign in to the UI, and what they may read.

    Embedded default: a local users file (``users_file``, JSON with salted scrypt hashes, managed
    with ``gyosei user add``). ``oidc = true``: single sign-on with Streamlit's ``st.login``
    (provider settings in ``.streamlit/secrets.toml`` ``[auth]``; needs ``Authlib``), the identity
    token's claims mapped to clearance (``clearance_claim``, else the highest level that
    ``clearance_by_group`` gives the user's groups, else ``default_clearance``) and groups
    (``groups_claim``, a list or a comma-separated string). Members of ``admin_groups`` (or users
    with the ``admin`` role in the users file) may manage documents and see the usage dashboard.
    """

    users_file: Path = Path("var/users.json")
    oidc: bool = False
    oidc_provider: str | None = None  # the [auth.<name>] section; None: the [auth] section itself
    name_claim: str = "email"
    clearance_claim: str = "clearance"
    groups_claim: str = "groups"
    default_clearance: int = Field(default=1, ge=1, le=3)
    clearance_by_group: dict[str, int] = Field(default_factory=dict)
    admin_groups: list[str] = Field(default_factory=lambda: ["gyosei-admin"])
    max_failures: int = Field(default=5, ge=1)  # wrong passwords for one name before a pause
    lockout_s: float = Field(default=300, ge=0)


class Settings(BaseSettings):
    """Everything configurable. See the README's settings table."""

    model_config = SettingsConfigDict(
        env_prefix="GYOSEI_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    data_dir: Path = Path("data_samples")
    # Where `gyosei eval` writes reports and the 評価 page reads them (the only folder it browses).
    eval_reports_dir: Path = Path("eval/reports")
    index: IndexSettings = Field(default_factory=IndexSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    chunk: ChunkSettings = Field(default_factory=ChunkSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    style: StyleSettings = Field(default_factory=StyleSettings)
    export: ExportSettings = Field(default_factory=ExportSettings)

    @property
    def llm_limit(self) -> int:
        """The highest 機密性 a passage may have to reach the LLM (``llm.max_confidentiality``,
        else 1 for an external endpoint and ``security.max_confidentiality`` for a local one)."""
        if self.llm.max_confidentiality is not None:
            return self.llm.max_confidentiality
        return 1 if self.llm.external else self.security.max_confidentiality

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
