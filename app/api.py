"""A small JSON API over HTTP for tools that call gyosei-rag directly (and for the load test).

Same answers, same access filters and same audit log as the UI and the CLI; the standard
library's threading HTTP server, loopback by default. A client signs in once and sends the
token it gets back (passwords are scrypt-hashed: verifying one per request would cost more than
the answer)::

    POST /api/login   {"user": "tanaka", "password": "..."}          -> {"token": "...", "expires_in": 28800}
    POST /api/logout  (Authorization: Bearer <token>)                 -> {"status": "signed_out"}
    POST /api/ask     {"question": "...", "filters": {...}, "mode": "hybrid"}   (Authorization: Bearer <token>)
    POST /api/search  {"question": "...", "k": 10, "filters": {...}, "mode": "hybrid"}  -> {"hits": [{"rank": 1, ...}]}
    GET  /api/health

Errors come back as ``{"error": "<Japanese message>"}`` with a 4xx/5xx status; details go to the
log only. A malformed field is a 400 naming it (``app.api_input``). The body is read only after
the token is checked (routes other than login), within ``MAX_BODY_BYTES`` and a deadline;
sockets time out, and at most ``MAX_CONNECTIONS`` requests are served at once.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from app.api_input import InputError, content_length, parse_filters, read_body
from app.audit import AuditEvent, AuditLog
from app.auth import LoginThrottle, User, UserStore, sign_in
from retrieval.answer import Answerer
from retrieval.errors import GyoseiError
from retrieval.query_limits import check_query
from retrieval.settings import Settings
from retrieval.types import Filters, SearchMode

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024  # a question plus filters; anything bigger is not a question
TOKEN_TTL_S = 8 * 3600
SOCKET_TIMEOUT_S = 10.0  # a client silent this long is dropped (also bounds reading the request line)
BODY_TIMEOUT_S = 10.0  # the whole body must arrive within this, however it is trickled
MAX_CONNECTIONS = 32  # requests in progress at once; more are refused (503) instead of queued as threads
PUBLIC_ROUTES = {("GET", "/api/health"), ("POST", "/api/login")}


class ApiError(Exception):
    """An error for the client: HTTP status and a Japanese message."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Session:
    user: User
    expires: float


class GyoseiApi:
    """The API's logic, independent of the HTTP plumbing (tests call ``handle`` directly)."""

    def __init__(self, settings: Settings, users: UserStore, answerer: Answerer, audit: AuditLog | None = None,
                 *, token_ttl_s: float = TOKEN_TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.users = users
        self.answerer = answerer
        self.audit = audit
        self.token_ttl_s = token_ttl_s
        self.clock = clock
        self.throttle = LoginThrottle(settings.auth.max_failures, settings.auth.lockout_s)
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    # -- routing --------------------------------------------------------------------------
    def handle(self, method: str, path: str, body: dict[str, Any], token: str | None, source: str = "") -> dict[str, Any]:
        """The JSON reply for one request; raises ApiError for the client's mistakes."""
        if method == "GET" and path == "/api/health":
            return {"status": "ok"}
        if method != "POST":
            raise ApiError(HTTPStatus.METHOD_NOT_ALLOWED, "このメソッドは使えません。POST で送ってください。")
        if path == "/api/login":
            name, password = body.get("user", ""), body.get("password", "")
            if not isinstance(name, str) or not isinstance(password, str):
                raise ApiError(HTTPStatus.BAD_REQUEST, "user と password は文字列で指定してください。")
            return self.login(name, password, source)
        if path == "/api/logout":
            return self.logout(token)
        routes = {"/api/ask": self.ask, "/api/search": self.search}
        if path not in routes:
            raise ApiError(HTTPStatus.NOT_FOUND, f"{path} というAPIはありません。")
        return routes[path](self.user_for(token), body)

    # -- sign-in --------------------------------------------------------------------------
    def login(self, name: str, password: str, source: str = "") -> dict[str, Any]:
        attempt = sign_in(self.users, self.throttle, name, password, source)
        if self.audit is not None:  # refused attempts too, as the UI records them
            self.audit.record(name or "(空欄)", "sign_in", {"via": "api"}, outcome=attempt.outcome)
        if attempt.outcome == "blocked":
            raise ApiError(HTTPStatus.TOO_MANY_REQUESTS, f"サインインの失敗が続いたため、{int(attempt.wait_s) + 1}秒後に再度お試しください。")
        if attempt.user is None:
            raise ApiError(HTTPStatus.UNAUTHORIZED, "ユーザー名またはパスワードが違います。")
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[token] = Session(attempt.user, self.clock() + self.token_ttl_s)
        return {"token": token, "expires_in": int(self.token_ttl_s)}

    def logout(self, token: str | None) -> dict[str, Any]:
        """End the token's session at once (401 when there is none)."""
        user = self.user_for(token)
        with self._lock:
            self._sessions.pop(token or "", None)
        if self.audit is not None:
            self.audit.record(user.name, "sign_out", {"via": "api"})
        return {"status": "signed_out"}

    def user_for(self, token: str | None) -> User:
        """The token's user as the users file holds them now; 401 when the token is unknown,
        expired, or its user was removed or changed (password, clearance, groups, roles)."""
        with self._lock:
            session = self._sessions.get(token or "")
            if session is not None and session.expires < self.clock():
                del self._sessions[token or ""]
                session = None
        if session is None:
            raise ApiError(HTTPStatus.UNAUTHORIZED, "サインインが必要です（/api/login で得たトークンを Authorization: Bearer で送ってください）。")
        fresh = self.users.current(session.user)
        if fresh is None:
            with self._lock:
                self._sessions.pop(token or "", None)
            raise ApiError(HTTPStatus.UNAUTHORIZED, "利用者の登録内容が変更されたため、このトークンは無効になりました。/api/login でサインインし直してください。")
        return fresh

    # -- work -----------------------------------------------------------------------------
    def ask(self, user: User, body: dict[str, Any]) -> dict[str, Any]:
        question, filters, mode = self._question(body), _filters(body.get("filters")), _mode(body.get("mode"))
        params = {"command": "api.ask", "question": question, "mode": mode.value, "filters": asdict(filters)}
        answer = self._audited(user, params, lambda: self.answerer.answer(question, user.access, filters, mode),
                               lambda event, a: event.note_answer(a))
        return {"answer": answer.text, "refused": answer.refused, "method": answer.method,
                "sentences": [asdict(s) for s in answer.sentences],
                "sources": [{"n": s.n, "doc_id": s.doc_id, "chunk_id": s.chunk_id, "label": s.label, "url": s.url,
                             "text": s.text, "highlights": s.highlights} for s in answer.sources],
                "notes": answer.notes, "warnings": answer.warnings, "timings": answer.timings,
                "notice": asdict(answer.notice) if answer.notice is not None else None}

    def search(self, user: User, body: dict[str, Any]) -> dict[str, Any]:
        question, filters, mode = self._question(body), _filters(body.get("filters")), _mode(body.get("mode"))
        k = body.get("k", 10)
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 50:
            raise ApiError(HTTPStatus.BAD_REQUEST, "k は 1〜50 の整数で指定してください。")
        params = {"command": "api.search", "question": question, "mode": mode.value, "k": k, "filters": asdict(filters)}
        hits = self._audited(user, params, lambda: self.answerer.searcher.search(question, user.access, filters, mode, k),
                             lambda event, hs: setattr(event, "doc_ids", [str(h.payload.get("doc_id", "")) for h in hs]))
        # Ranks, not scores: a sparse score carries IDF counted over every chunk, hidden ones included.
        return {"hits": [{"rank": rank, "doc_id": h.payload.get("doc_id"), "title": h.payload.get("title"),
                          "section": h.payload.get("section"), "date": h.payload.get("date"),
                          "url": h.payload.get("source_url"), "text": h.text} for rank, h in enumerate(hits, 1)]}

    def _question(self, body: dict[str, Any]) -> str:
        question = body.get("question")
        if not isinstance(question, str) or not question.strip():
            raise ApiError(HTTPStatus.BAD_REQUEST, "question（質問文）を文字列で指定してください。")
        try:
            check_query(question, self.settings.limits)
        except GyoseiError as exc:
            raise ApiError(HTTPStatus.BAD_REQUEST, str(exc)) from exc
        return question

    def _audited(self, user: User, params: dict[str, Any], work: Callable[[], Any], note: Callable[[AuditEvent, Any], None]) -> Any:
        """``work()``, recorded as a question; ``note`` fills the event from the result."""
        try:
            if self.audit is None:
                return work()
            with self.audit.track(user.name, "question", params) as event:
                result = work()
                note(event, result)
                return result
        except GyoseiError as exc:
            raise ApiError(HTTPStatus.SERVICE_UNAVAILABLE, str(exc)) from exc


def _filters(raw: Any) -> Filters:
    try:
        return parse_filters(raw)
    except InputError as exc:
        raise ApiError(exc.status, exc.message) from None


def _mode(raw: Any) -> SearchMode:
    if raw is not None and not isinstance(raw, str):
        raise ApiError(HTTPStatus.BAD_REQUEST, "mode は hybrid、dense、sparse のいずれかの文字列です。")
    try:
        return SearchMode(raw or "hybrid")
    except ValueError:
        raise ApiError(HTTPStatus.BAD_REQUEST, "mode は hybrid、dense、sparse のいずれかです。") from None


def make_handler(api: GyoseiApi) -> type[BaseHTTPRequestHandler]:
    """The request handler class bound to ``api``."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "gyosei-api"
        timeout = SOCKET_TIMEOUT_S  # socketserver sets it on the connection: no read waits forever

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def _serve(self, method: str) -> None:
            path = self.path.split("?", 1)[0]
            body_read = method != "POST"
            try:
                auth = self.headers.get("Authorization", "")
                token = auth[7:].strip() if auth.startswith("Bearer ") else None
                if (method, path) not in PUBLIC_ROUTES and method == "POST":
                    api.user_for(token)  # 401 before a byte of the body is read
                body = self._body() if method == "POST" else {}
                body_read = True
                self._reply(HTTPStatus.OK, api.handle(method, path, body, token, source=str(self.client_address[0])))
            except InputError as exc:
                self._reply(exc.status, {"error": exc.message}, close=True)
            except ApiError as exc:
                self._reply(exc.status, {"error": exc.message}, close=not body_read)
            except TimeoutError:
                self.close_connection = True  # the client went quiet: nothing more to say to it
            except Exception:  # the client gets a short message; the details stay in the log
                log.exception("API request failed: %s %s", method, path)
                self._reply(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "内部エラーが発生しました。管理者に連絡してください。"},
                            close=not body_read)

        def _body(self) -> dict[str, Any]:
            length = content_length(self.headers.get("Content-Length"), MAX_BODY_BYTES)
            return read_body(self.rfile, length, BODY_TIMEOUT_S)

        def _reply(self, status: HTTPStatus, payload: dict[str, Any], close: bool = False) -> None:
            """Send ``payload``; ``close`` when the body was left unread (it must not be taken
            for the next request on a kept-alive connection)."""
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # no question text in access logs
            log.debug("%s %s", self.command, self.path.split("?", 1)[0])

    return Handler


class _BoundedServer(ThreadingHTTPServer):
    """A threading server that serves at most ``MAX_CONNECTIONS`` requests at once and drops
    further connections at once (stalled clients cannot pile up threads)."""

    daemon_threads = True

    def __init__(self, *args: Any, max_connections: int = MAX_CONNECTIONS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            log.warning("API: too many connections, one refused")
            try:
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def serve(api: GyoseiApi, host: str = "127.0.0.1", port: int = 8502, max_connections: int = MAX_CONNECTIONS) -> ThreadingHTTPServer:
    """A started-on-demand HTTP server for ``api`` (call ``serve_forever`` on it)."""
    return _BoundedServer((host, port), make_handler(api), max_connections=max_connections)
