"""The optional chat model: built from ``LLMSettings`` at the edge, and its failures in Japanese.

``chat_model_from_settings`` returns a LangChain chat model (or ``None`` when no LLM is
configured); nothing here contacts the server. ``llm_error`` turns whatever a provider raised
(openai / httpx / builtin timeouts, connection errors, HTTP statuses) into an ``LLMError`` whose
message says what to check. Prompts and document text are never logged or put into messages.

>>> model = chat_model_from_settings(LLMSettings(provider="openai_compatible",
...     base_url="http://127.0.0.1:8080/v1", model="gemma-3-270m"))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from retrieval.errors import ConfigError, LLMError
from retrieval.settings import LLMSettings

if TYPE_CHECKING:  # langchain imports are heavy; keep them out of import time
    from langchain_core.language_models import BaseChatModel

__all__ = ["chat_model_from_settings", "llm_error", "describe_endpoint"]

# Provider error messages can be long (HTML error pages); keep what the user sees short.
_MAX_DETAIL = 200


def chat_model_from_settings(cfg: LLMSettings) -> BaseChatModel | None:
    """The chat model ``cfg`` describes, or ``None`` when ``cfg.provider == "none"``.

    Raises ``ConfigError`` (Japanese) when the settings are incomplete or the provider's package
    is missing. No network call is made here.
    """
    if cfg.provider == "none":
        return None
    if not cfg.model:
        raise ConfigError(
            "LLM のモデル名が設定されていません。GYOSEI_LLM__MODEL を設定してください"
            "（例: openai_compatible なら gemma-3-270m、langchain なら openai:gpt-4o-mini）"
        )
    api_key = cfg.api_key.get_secret_value() if cfg.api_key else None
    if cfg.provider == "openai_compatible":
        if not cfg.base_url:
            raise ConfigError(
                "openai_compatible の LLM には接続先が必要です。GYOSEI_LLM__BASE_URL を設定してください"
                "（例: http://127.0.0.1:8080/v1）"
            )
        try:
            from langchain_openai import ChatOpenAI
        except ImportError as exc:
            raise ConfigError(
                "LLM を使うには langchain-openai が必要です。pip install langchain-openai を実行してください"
            ) from exc
        return ChatOpenAI(
            base_url=cfg.base_url,
            # Local servers (llama.cpp, vLLM, Ollama) accept any key, but the client insists on one.
            api_key=api_key or "none",
            model=cfg.model,
            timeout=cfg.timeout_s,
            max_retries=1,
            temperature=cfg.temperature,
            # ChatOpenAI sends max_tokens as "max_completion_tokens", which llama.cpp's server
            # ignores (it then generates until its context is full); every OpenAI-compatible
            # server knows the classic field.
            extra_body={"max_tokens": cfg.max_tokens},
        )
    # provider == "langchain": any model LangChain's init_chat_model knows ("provider:model").
    from langchain.chat_models import init_chat_model

    kwargs: dict[str, Any] = {
        "timeout": cfg.timeout_s,
        "max_retries": 1,
        "max_tokens": cfg.max_tokens,
        "temperature": cfg.temperature,
    }
    if cfg.base_url:
        kwargs["base_url"] = cfg.base_url
        if cfg.model.startswith(("openai:", "azure_openai:")):
            # An OpenAI-compatible server: also send the classic field (see the branch above).
            kwargs["extra_body"] = {"max_tokens": cfg.max_tokens}
    if api_key:
        kwargs["api_key"] = api_key
    try:
        return init_chat_model(cfg.model, **kwargs)
    except ImportError as exc:
        raise ConfigError(
            f"LLM「{cfg.model}」のプロバイダー用パッケージがインストールされていません（{exc}）。"
            "表示されたパッケージを pip install してください"
        ) from exc
    except ValueError as exc:
        raise ConfigError(
            f"LLM「{cfg.model}」を LangChain の init_chat_model で作れません（{_short(exc)}）。"
            "GYOSEI_LLM__MODEL を「プロバイダー:モデル名」（例: openai:gpt-4o-mini）で指定してください"
        ) from exc


def describe_endpoint(cfg: LLMSettings) -> str:
    """How the LLM is named in messages: its URL, or its LangChain model string."""
    return cfg.base_url or cfg.model or "（未設定）"


def llm_error(exc: BaseException, *, endpoint: str = "", model: str = "", timeout_s: float | None = None) -> LLMError:
    """A Japanese ``LLMError`` for an exception a chat model raised (what failed, what to check).

    Recognizes errors by class name and ``status_code`` so that it works for every provider
    package (openai, httpx, anthropic...) without importing them.
    """
    if isinstance(exc, LLMError):
        return exc
    where = f"LLM サーバー {endpoint} " if endpoint else "LLM サーバー"  # a space only after a URL
    for err in _chain(exc):
        names = {cls.__name__ for cls in type(err).__mro__}
        # Timeouts first: openai's APITimeoutError is also an APIConnectionError.
        if isinstance(err, TimeoutError) or any("Timeout" in n for n in names):
            limit = f"{timeout_s:g} 秒以内に" if timeout_s else "時間内に"
            return LLMError(
                f"{where}が{limit}応答しませんでした。サーバーの負荷を確認するか、"
                "GYOSEI_LLM__TIMEOUT_S を延ばしてください"
            )
        status = _status_code(err)
        if status is not None:
            return _status_error(status, where, model, _short(err))
        if isinstance(err, ConnectionError) or names & {"APIConnectionError", "ConnectError", "NetworkError"}:
            return LLMError(
                f"{where}に接続できません。サーバーが起動しているか、GYOSEI_LLM__BASE_URL を確認してください"
            )
    return LLMError(
        f"{where}の呼び出しに失敗しました（{type(exc).__name__}）。サーバーのログと GYOSEI_LLM__ の設定を確認してください"
    )


def _status_error(status: int, where: str, model: str, detail: str) -> LLMError:
    """The message for an HTTP error status from the provider."""
    suffix = f"（HTTP {status}: {detail}）" if detail else f"（HTTP {status}）"
    if status in (401, 403):
        return LLMError(f"{where}が認証を拒否しました{suffix}。GYOSEI_LLM__API_KEY を確認してください")
    if status == 404:
        return LLMError(
            f"{where}にモデル「{model}」または API が見つかりません{suffix}。"
            "GYOSEI_LLM__MODEL と GYOSEI_LLM__BASE_URL（末尾の /v1 など）を確認してください"
        )
    if status == 429:
        return LLMError(f"{where}の利用上限に達しました{suffix}。しばらく待ってから再実行してください")
    if 400 <= status < 500:
        return LLMError(
            f"{where}が要求を受け付けませんでした{suffix}。資料が長すぎてモデルの文脈長を超えていないか、"
            "GYOSEI_LLM__MAX_TOKENS とサーバーの設定を確認してください"
        )
    return LLMError(f"{where}でエラーが発生しました{suffix}。サーバーのログを確認してください")


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and its causes, outermost first (providers wrap httpx/socket errors)."""
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in out and len(out) < 8:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def _status_code(err: BaseException) -> int | None:
    status = getattr(err, "status_code", None)
    if status is None:
        status = getattr(getattr(err, "response", None), "status_code", None)
    return status if isinstance(status, int) and status >= 400 else None


def _short(err: BaseException) -> str:
    """The provider's own message, shortened (it never contains our prompt: servers don't echo it)."""
    body = getattr(err, "body", None)
    text = ""
    if isinstance(body, dict):
        inner = body.get("error")
        text = str(body.get("message") or (inner.get("message") if isinstance(inner, dict) else "") or "")
    text = " ".join((text or str(err)).split())
    return text if len(text) <= _MAX_DETAIL else text[:_MAX_DETAIL] + "…"
