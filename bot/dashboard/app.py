"""The dashboard's aiohttp sub-application: `dashboard_app(...)`, mounted at /dashboard by bot/web.py.

    app = dashboard_app(db=db, deps=deps, settings=settings)
    server.add_dashboard(app)  # bot/app.py does this in every run mode

What it serves by itself: the login pages and log-out (bot/dashboard/auth.py), a home page, the files
of bot/dashboard/static at /dashboard/static/. Everything else comes from registrars: functions
`register(app: web.Application) -> None` called once, before the application is mounted. By default
the one of `bot/dashboard/pages.py` if that module exists:

    # bot/dashboard/pages.py
    from bot.dashboard.keys import DB, DEPS, NavItem, add_nav
    from bot.dashboard.render import render
    from bot.dashboard.auth import viewer

    async def overview(request: web.Request) -> web.Response:
        who = viewer(request)
        visible = who.visible_units(request.app[DEPS].city)  # None: every unit
        async with request.app[DB].sessions() as session:
            ...
        return render(request, "overview.html", figures=...)

    def register(app: web.Application) -> None:
        app.router.add_get("/overview", overview, name="overview")
        add_nav(app, NavItem("overview", "dashboard.nav.overview"))

A registrar's routes need a logged-in viewer (the middleware sends others to the login page) and,
for anything but GET/HEAD/OPTIONS, the session's CSRF token; `keys.public(app, name)` opens a route
to everyone. `keys.allow_sources(app, "img-src", ...)` widens the Content-Security-Policy. Templates
go in bot/dashboard/templates and extend base.html (see render.py).

What `request.app` holds (typed keys of bot/dashboard/keys.py): DB (the Database: `.sessions()`
for reads, `.transaction()` for writes), DEPS (city, texts, clock, calendars), CONFIG (base URL,
session lifetime, CSP), NAV (the navigation entries), TEMPLATES (the Jinja2 environment).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from pathlib import Path

from aiohttp import web

from bot.dashboard.auth import add_login_routes, login_required, security_headers, viewer
from bot.dashboard.cache import Cache
from bot.dashboard.keys import (
    CONFIG,
    DB,
    DEPS,
    FIGURES,
    FIGURES_KEPT,
    NAV,
    PUBLIC,
    TEMPLATES,
    DashboardConfig,
    NavItem,
    Templates,
    add_nav,
    public,
)
from bot.dashboard.render import STATIC_DIR, render
from bot.settings import Settings
from handlers.context import Deps
from models.db import Database

Registrar = Callable[[web.Application], None]
PAGES_MODULE = "bot.dashboard.pages"  # the pages builder's module: its `register` is a registrar


def page_registrars() -> list[Registrar]:
    """`register` of bot/dashboard/pages.py, when there is such a module."""
    try:
        pages = importlib.import_module(PAGES_MODULE)
    except ModuleNotFoundError as error:
        if error.name != PAGES_MODULE:
            raise  # the module is there but something it imports is not: say so
        return []
    register: Registrar | None = getattr(pages, "register", None)
    return [register] if register is not None else []


def dashboard_app(
    *,
    db: Database,
    deps: Deps,
    settings: Settings,
    registrars: Sequence[Registrar] | None = None,
    template_dirs: Iterable[Path] = (),
) -> web.Application:
    """The dashboard as an application to mount at /dashboard (see the module's doc).

    registrars: what adds the pages; None: bot/dashboard/pages.py's `register`, if there is one.
    template_dirs: looked in before bot/dashboard/templates."""
    app = web.Application(middlewares=[security_headers, login_required])
    app[DB] = db
    app[DEPS] = deps
    app[FIGURES] = Cache(deps.clock, FIGURES_KEPT)
    app[CONFIG] = DashboardConfig(
        base_url=settings.dashboard_url,
        session_lifetime=timedelta(hours=settings.dashboard_session_hours),
    )
    app[NAV] = []
    app[PUBLIC] = set()
    app[TEMPLATES] = Templates(*template_dirs)
    add_login_routes(app)
    app.router.add_static("/static", STATIC_DIR, name="static")
    public(app, "static")
    app.router.add_get("/", home, name="home")
    add_nav(app, NavItem("home", "dashboard.nav.home"))
    for register in page_registrars() if registrars is None else registrars:
        register(app)
    return app


async def home(request: web.Request) -> web.Response:
    """Who is logged in and which units they see (the pages builder's pages come in the navigation)."""
    city = request.app[DEPS].city
    visible = viewer(request).visible_units(city)
    units = [unit for key, unit in city.units.items() if visible is None or key in visible]
    return render(request, "home.html", units=units, all_units=visible is None)
