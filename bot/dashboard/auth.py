"""Logging in to the dashboard, sessions, CSRF and the security headers (the rules: workflows/web_login.py).

| request                  | who            | what                                                        |
|--------------------------|----------------|-------------------------------------------------------------|
| GET  /dashboard/login    | anyone         | how to log in: send /dasbor to the bot in private chat      |
| GET  /dashboard/login/T  | anyone         | a "Log in" button (the link is not used up: link previews)  |
| POST /dashboard/login/T  | anyone         | uses the link once, sets the session cookie, → home         |
| POST /dashboard/logout   | logged in+CSRF | ends the session, → the login page                          |
| anything else            | logged in      | GET without a session → the login page; other methods → 403 |

The session cookie (`civicbot_session`) holds a random token, of which the database keeps the sha256:
HttpOnly, SameSite=Lax, Path=/dashboard, Secure when CIVICBOT_PUBLIC_URL is https. Every request but
GET/HEAD/OPTIONS must carry the session's CSRF token, in the form field `csrf` or the header
`X-CSRF-Token` (403 otherwise); the login POST is protected by its one-time token instead, and
refused when the browser says another site sent it (Sec-Fetch-Site: someone's own link posted by
their page would log the victim in as them).

For a handler behind the log-in: `viewer(request)` is the `Viewer` (stored as `request[keys.VIEWER]`,
a typed request key as aiohttp recommends), `csrf_token(request)` the token for its forms (templates
get it as `csrf`). Every response of the
dashboard carries the Content-Security-Policy (keys.default_csp, extended with keys.allow_sources),
X-Frame-Options DENY, Referrer-Policy no-referrer (no login token leaks through a Referer),
X-Content-Type-Options nosniff, and pages Cache-Control no-store.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.dashboard.keys import CONFIG, CSRF, DB, DEPS, MOUNT, PUBLIC, SESSION_COOKIE, VIEWER, csp_header
from bot.dashboard.render import render
from workflows import web_login
from workflows.web_login import SessionCheck, Viewer

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
TOKEN_PATTERN = "[A-Za-z0-9_-]{16,128}"  # what new_token makes, with room to spare
OWN_REQUESTS = frozenset({"same-origin", "none"})  # a login POST's Sec-Fetch-Site, if the browser sends one


def viewer(request: web.Request) -> Viewer:
    """The logged-in viewer of a request behind the log-in."""
    return request[VIEWER]


def csrf_token(request: web.Request) -> str:
    """The session's CSRF token, for a form (or a script's X-CSRF-Token header)."""
    return request.get(CSRF) or ""


def _route_name(request: web.Request) -> str | None:
    route = request.match_info.route
    resource = route.resource if route is not None else None
    return resource.name if resource is not None else None


# --- middlewares -----------------------------------------------------------------------------------


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The security headers on every response of the dashboard, errors and redirects included."""
    try:
        response = await handler(request)
    except web.HTTPException as error:
        _protect(request, error)
        raise
    _protect(request, response)
    return response


def _protect(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", csp_header(request.app[CONFIG].csp))
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Content-Type-Options"] = "nosniff"
    if _route_name(request) != "static":
        headers.setdefault("Cache-Control", "no-store")  # pages show personal data


@web.middleware
async def login_required(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every route but the public ones needs a live session, and every POST its CSRF token."""
    if _route_name(request) in request.app[PUBLIC]:
        return await handler(request)
    check = await _session(request)
    if check.viewer is None:
        if request.method in SAFE_METHODS:
            return _see_other(request, "login_help")
        return render(request, "forbidden.html", status=403, reason="session")
    request[VIEWER] = check.viewer
    request[CSRF] = check.csrf or ""
    if request.method not in SAFE_METHODS and not await _csrf_sent(request, check.csrf or ""):
        return render(request, "forbidden.html", status=403, reason="csrf")
    return await handler(request)


async def _session(request: web.Request) -> SessionCheck:
    """The session of the request's cookie; one that ended is deleted, a live one marked seen."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return SessionCheck()
    db, now = request.app[DB], request.app[DEPS].clock.now()
    async with db.sessions() as session:
        check = await web_login.check_session(session=session, token=token, now=now)
    if check.ended or check.touch:
        async with db.transaction() as session:
            if check.ended:
                await web_login.end_session(session=session, token=token)
            else:
                await web_login.record_seen(session=session, token=token, now=now)
    return check


async def _csrf_sent(request: web.Request, expected: str) -> bool:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            field = (await request.post()).get(CSRF_FIELD)
        except ValueError:  # a body that is not what its Content-Type says (not UTF-8, no boundary)
            field = None
        sent = field if isinstance(field, str) else None
    return web_login.same_token(sent, expected)


def _see_other(request: web.Request, route: str, **query: str) -> web.Response:
    """A 303 to a named route of the dashboard (after a POST the browser GETs it)."""
    location = request.app.router[route].url_for().with_query(query or None)
    return web.Response(status=303, headers={"Location": str(location)})


# --- the login pages -------------------------------------------------------------------------------


async def login_help(request: web.Request) -> web.Response:
    """How to log in (also where a request without a session lands, and where log-out leads)."""
    return render(request, "login_help.html", logged_out=request.query.get("out") == "1")


async def login_form(request: web.Request) -> web.Response:
    """The link from the bot: a button to log in, or "ask for a new link"; nothing is used up."""
    now = request.app[DEPS].clock.now()
    async with request.app[DB].sessions() as session:
        staff = await web_login.peek_login(session=session, token=request.match_info["token"], now=now)
    if staff is None:
        return render(request, "login_expired.html", status=410)
    return render(request, "login.html")


async def login_submit(request: web.Request) -> web.Response:
    """The "Log in" button: the link is used up and the session starts (a session this browser had
    before ends: a new log-in always gets a new cookie)."""
    if request.headers.get("Sec-Fetch-Site", "none") not in OWN_REQUESTS:
        # another site's form posting a link of its own (login CSRF): the link is left unused
        return render(request, "forbidden.html", status=403, reason="csrf")
    config, now = request.app[CONFIG], request.app[DEPS].clock.now()
    earlier = request.cookies.get(SESSION_COOKIE)
    async with request.app[DB].transaction() as session:
        started = await web_login.redeem_login(
            session=session, token=request.match_info["token"], now=now, lifetime=config.session_lifetime
        )
        if started is not None and earlier:
            await web_login.end_session(session=session, token=earlier)
    if started is None:
        return render(request, "login_expired.html", status=410)
    response = _see_other(request, "home")
    response.set_cookie(
        SESSION_COOKIE,
        started.token,
        max_age=int(config.session_lifetime.total_seconds()),
        path=MOUNT,
        httponly=True,
        samesite="Lax",
        secure=config.secure_cookies,
    )
    return response


async def logout(request: web.Request) -> web.Response:
    """End the session (the middleware has checked its CSRF token)."""
    token = request.cookies.get(SESSION_COOKIE, "")
    async with request.app[DB].transaction() as session:
        await web_login.end_session(session=session, token=token)
    response = _see_other(request, "login_help", out="1")
    secure = request.app[CONFIG].secure_cookies
    response.del_cookie(SESSION_COOKIE, path=MOUNT, httponly=True, samesite="Lax", secure=secure)
    return response


def add_login_routes(app: web.Application) -> None:
    """The login pages (public) and log-out; the route names are login_help, login, logout."""
    app.router.add_get("/login", login_help, name="login_help")
    link = app.router.add_resource(f"/login/{{token:{TOKEN_PATTERN}}}", name="login")
    link.add_route("GET", login_form)
    link.add_route("POST", login_submit)
    app.router.add_post("/logout", logout, name="logout")
    app[PUBLIC].update({"login_help", "login"})
