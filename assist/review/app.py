"""The review app: FastAPI routes rendering Jinja2 pages from the call store.

Every page and every export needs a logged-in supervisor (signed, HttpOnly, SameSite=Lax
session cookie); every form carries the session's CSRF token and a POST without it is refused
with 403. Transcripts are shown through Jinja2's autoescaping and searched with bound LIKE
parameters, so what a caller said can never become markup or SQL.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import zoneinfo
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from assist.errors import ConfigError
from assist.events import stage_label
from assist.review import auth
from assist.review.chart import STAGE_COLOURS, clock, timeline_svg
from assist.store import queries
from assist.store.db import session_factory
from assist.store.recorder import STAGE_RANK
from assist.store.schema import Call

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "assist_review"
SESSION_HOURS = 12
MAX_NOTE = 5000
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters["stage_label"] = lambda value: stage_label(str(value))
templates.env.filters["clock"] = lambda seconds: clock(float(seconds))
templates.env.filters["trigger_label"] = lambda name: str(name).replace("_", " ")


class LoginRequired(Exception):
    """Raised by the ``user`` dependency; turned into a redirect to /login (401 for the API)."""


def create_app(engine: Engine, secret_key: str, *, https_only: bool = False,
               zone: dt.tzinfo | None = dt.UTC) -> FastAPI:
    """The review app on ``engine``; ``secret_key`` signs the session cookies; times are shown,
    and dates in the filters read, in ``zone`` (None: this machine's time zone)."""
    app = FastAPI(title="assist review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.zone = zone
    app.state.sessions = session_factory(engine)
    app.state.throttle = auth.LoginThrottle()
    app.add_middleware(SessionMiddleware, secret_key=secret_key, session_cookie=SESSION_COOKIE,
                       max_age=SESSION_HOURS * 3600, same_site="lax", https_only=https_only)
    app.middleware("http")(_security_headers)
    app.add_exception_handler(LoginRequired, _to_login)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _error_page)  # type: ignore[arg-type]
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(_router())
    return app


async def _security_headers(request: Request, call_next: Any) -> Response:
    response: Response = await call_next(request)
    response.headers.update(SECURITY_HEADERS)
    if not request.url.path.startswith("/static/"):
        # Call data must not linger in a shared browser's cache after logging out.
        response.headers["Cache-Control"] = "no-store"
    return response


async def _to_login(request: Request, _exc: LoginRequired) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": "log in first"}, status_code=401)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


ERROR_TITLES = {400: "That did not work", 403: "Not allowed", 404: "Not found"}


async def _error_page(request: Request, exc: StarletteHTTPException) -> Response:
    """A page in the app's own layout with a way back; the API keeps its JSON."""
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
    back = request.url.path if request.method == "POST" else "/"
    return render(request, "error.html", {
        "status": exc.status_code, "title": ERROR_TITLES.get(exc.status_code, "Something failed"),
        "message": exc.detail, "back": _safe_next(back.removesuffix("/notes")
                                                  .removesuffix("/review"))},
        status=exc.status_code)


# --- dependencies -----------------------------------------------------------------------------


def db(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def user(request: Request) -> str:
    name = request.session.get("user")
    if not isinstance(name, str) or not name:
        raise LoginRequired
    return name


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str) or not token:
        token = auth.new_csrf_token()
        request.session["csrf"] = token
    return token


def checked_csrf(request: Request,
                 csrf_token: Annotated[str, Form(alias=auth.CSRF_FIELD)] = "") -> None:
    if not auth.csrf_matches(request.session.get("csrf"), csrf_token):
        raise HTTPException(status_code=403, detail="Missing or wrong form token; reload the page "
                                                    "and try again.")


Db = Annotated[Session, Depends(db)]
User = Annotated[str, Depends(user)]
Csrf = Annotated[None, Depends(checked_csrf)]


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    context = {"csrf": csrf_token(request), "user": request.session.get("user"),
               "stage_colours": STAGE_COLOURS, **context}
    return templates.TemplateResponse(request, name, context, status_code=status)


# --- routes -------------------------------------------------------------------------------------


def _router() -> APIRouter:
    router = APIRouter()
    router.add_api_route("/login", login_page, methods=["GET"], response_class=HTMLResponse)
    router.add_api_route("/login", login, methods=["POST"])
    router.add_api_route("/logout", logout, methods=["POST"])
    router.add_api_route("/", call_list, methods=["GET"], response_class=HTMLResponse)
    router.add_api_route("/calls/{call_id}", call_page, methods=["GET"],
                         response_class=HTMLResponse)
    router.add_api_route("/calls/{call_id}/review", review_call, methods=["POST"])
    router.add_api_route("/calls/{call_id}/notes", add_note, methods=["POST"])
    router.add_api_route("/calls/{call_id}/export.json", export_json, methods=["GET"])
    router.add_api_route("/calls/{call_id}/export.csv", export_csv, methods=["GET"])
    router.add_api_route("/calls/{call_id}/audio/{row_id}.flac", audio, methods=["GET"])
    router.add_api_route("/api/alerts", alerts, methods=["GET"])
    return router


def login_page(request: Request,
               next_url: Annotated[str, Query(alias="next")] = "/") -> Response:
    return render(request, "login.html", {"next": _safe_next(next_url), "error": ""})


def login(request: Request, session: Db, _csrf: Csrf, name: Annotated[str, Form()] = "",
          password: Annotated[str, Form()] = "",
          next_url: Annotated[str, Form(alias="next")] = "/") -> Response:
    throttle: auth.LoginThrottle = request.app.state.throttle
    address = request.client.host if request.client else ""
    if throttle.blocked(name, address, time.monotonic()):
        return render(request, "login.html", {
            "next": _safe_next(next_url),
            "error": "Too many failed attempts; wait a few minutes and try again."}, status=429)
    account = queries.find_user(session, name)
    if not auth.verify_password(account.password_hash if account else None, password):
        log.warning("failed review login for %r", name[:64])
        throttle.failed(name, address, time.monotonic())
        return render(request, "login.html", {"next": _safe_next(next_url),
                                              "error": "Wrong name or password."}, status=401)
    throttle.succeeded(name, address)
    request.session.clear()  # a fresh session (and CSRF token) after login
    request.session["user"] = name
    return RedirectResponse(_safe_next(next_url), status_code=303)


def logout(request: Request, _csrf: Csrf) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


def call_list(request: Request, session: Db, who: User) -> Response:
    wanted, problems = _filter_from(request.query_params, request.app.state.zone)
    calls = queries.list_calls(session, wanted)
    return render(request, "calls.html", {
        "calls": calls, "wanted": wanted, "problems": problems,
        "needing_review": queries.needing_review(session), "limit": wanted.limit,
        "agents": queries.agents(session), "stages": list(STAGE_RANK),
        "latest_alert": queries.latest_alert_id(session), "outcome": queries.outcome,
        "outcomes": queries.OUTCOMES, "when": _clock(request),
    })


def call_page(request: Request, call_id: str, session: Db, who: User) -> Response:
    call = _call_or_404(session, call_id)
    return render(request, "call.html", {
        "call": call, "chart": timeline_svg(call), "outcome": queries.outcome(call),
        "summary": queries.summary_of(call) if call.ended_at is not None else None,
        "when": _clock(request), "evidence": _evidence_by_change(call),
        "stages_seen": {"calm", *(s.stage for s in call.stage_changes)},
        "latest_alert": queries.latest_alert_id(session),
        "with_audio": queries.utterances_with_audio(session, call.id),
    })


def review_call(call_id: str, session: Db, _csrf: Csrf, who: User) -> Response:
    call = _call_or_404(session, call_id)
    queries.mark_reviewed(session, call, who, _now())
    session.commit()
    return RedirectResponse(f"/calls/{quote(call.id, safe='')}", status_code=303)


def add_note(call_id: str, session: Db, _csrf: Csrf, who: User,
             text: Annotated[str, Form()] = "") -> Response:
    call = _call_or_404(session, call_id)
    text = text.strip()
    if not text or len(text) > MAX_NOTE:
        raise HTTPException(status_code=400, detail=f"A note needs 1 to {MAX_NOTE} characters.")
    queries.add_note(session, call, who, text, _now())
    session.commit()
    return RedirectResponse(f"/calls/{quote(call.id, safe='')}#notes", status_code=303)


def export_json(call_id: str, session: Db, who: User) -> Response:
    call = _call_or_404(session, call_id)
    body = json.dumps(queries.call_to_dict(call), indent=2)
    return Response(body, media_type="application/json",
                    headers=_attachment(f"call-{call.id}.json"))


def export_csv(call_id: str, session: Db, who: User) -> Response:
    call = _call_or_404(session, call_id)
    return Response(queries.call_to_csv(call), media_type="text/csv; charset=utf-8",
                    headers=_attachment(f"call-{call.id}.csv"))


def audio(call_id: str, row_id: int, session: Db, who: User) -> Response:
    # A number no database row id can be would overflow the query: no such line, not a 500.
    flac = queries.utterance_audio(session, call_id, row_id) if 0 < row_id < 2**63 else None
    if flac is None:
        raise HTTPException(status_code=404, detail="No audio was kept for this line.")
    return Response(flac, media_type="audio/flac")


def alerts(session: Db, who: User, after: int = 0) -> Response:
    found = [{**alert, "stage_label": stage_label(alert["stage"])}
             for alert in queries.alerts_after(session, after)]
    latest = found[-1]["id"] if found else after
    return JSONResponse({"alerts": found, "latest": latest})


# --- helpers ------------------------------------------------------------------------------------


def _call_or_404(session: Session, call_id: str) -> Call:
    call = queries.get_call(session, call_id)
    if call is None:
        raise HTTPException(status_code=404, detail="No such call.")
    return call


def _filter_from(params: Any, zone: dt.tzinfo | None) -> tuple[queries.CallFilter, list[str]]:
    """The list's filters from the query string; a bad value is ignored and reported."""
    problems: list[str] = []

    def day(key: str) -> dt.date | None:
        raw = params.get(key, "").strip()
        if not raw:
            return None
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            problems.append(f"ignored {key}: {raw!r} is not a date (YYYY-MM-DD)")
            return None

    def anger() -> float | None:
        raw = params.get("min_anger", "").strip()
        try:
            return min(max(float(raw), 0.0), 1.0) if raw else None
        except ValueError:
            problems.append(f"ignored min_anger: {raw!r} is not a number from 0 to 1")
            return None

    reviewed = {"yes": True, "no": False}.get(params.get("reviewed", ""))
    stage = params.get("stage", "")
    outcome = params.get("outcome", "")
    wanted = queries.CallFilter(
        date_from=day("date_from"), date_to=day("date_to"), agent=params.get("agent", ""),
        stage=stage if stage in {s.value for s in STAGE_RANK} else "", min_anger=anger(),
        reviewed=reviewed, search=params.get("q", "").strip()[:200],
        outcome=outcome if outcome in queries.OUTCOMES else "", zone=zone)
    return wanted, problems


def _evidence_by_change(call: Call) -> dict[int, list[str]]:
    """For each stage change, the evidence of the customer's line it answered: the one under
    way or last heard (a trigger heard mid-sentence changes the stage before the line ends)."""
    scored = [u for u in call.utterances if u.anger is not None]
    out: dict[int, list[str]] = {}
    for change in call.stage_changes:
        before = [u for u in scored if u.start <= change.t + 1e-6]
        out[change.id] = before[-1].evidence_list if before else []
    return out


def _safe_next(target: str) -> str:
    """Only same-site paths, so the login form cannot bounce a supervisor elsewhere."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f"attachment; filename=\"{quote(filename)}\""}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _clock(request: Request) -> Callable[[dt.datetime | None], str]:
    """How the pages write a stored time: in the app's time zone, named."""
    zone = request.app.state.zone

    def when(value: dt.datetime | None) -> str:
        stamp = queries.in_zone(value, zone)
        return stamp.strftime("%Y-%m-%d %H:%M %Z") if stamp else "—"
    return when


def time_zone(name: str) -> dt.tzinfo | None:
    """``review.timezone`` as a zone: an IANA name, or "" for this machine's own (None)."""
    if not name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"review.timezone: no time zone is called {name!r}; give an IANA "
                          "name such as \"Europe/London\", or leave it empty for this "
                          "machine's own") from None
