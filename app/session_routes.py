"""The two small HTTP endpoints that hold the session cookie (Streamlit cannot set an HttpOnly
cookie from a script): mounted by ``app/asgi.py`` through ``st.App(routes=...)``.

``POST /_gyosei/session`` trades the one-time code the sign-in page fetched it with for the
``gyosei_session`` cookie (HttpOnly, SameSite=Strict, expiring with the session);
``POST /_gyosei/signout`` clears it (the page has already ended the session server-side).
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.sessions import COOKIE, SessionStore

SESSION_PATH = "/_gyosei/session"
SIGNOUT_PATH = "/_gyosei/signout"


def _store() -> SessionStore:
    from app import resources

    return resources.session_store(resources.settings())


async def _session(request: Request) -> Response:
    code = (await request.body()).decode("ascii", "replace").strip()
    store = _store()
    cookie = store.redeem(code)
    if cookie is None:
        return Response("無効なコードです。", status_code=403, media_type="text/plain; charset=utf-8")
    response = Response(status_code=204)
    max_age = max(0, int(cookie.split(".")[1]) - int(time.time()))
    response.set_cookie(COOKIE, cookie, max_age=max_age, path="/", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response


async def _signout(request: Request) -> Response:
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


def routes() -> list[Route]:
    return [Route(SESSION_PATH, _session, methods=["POST"]), Route(SIGNOUT_PATH, _signout, methods=["POST"])]
