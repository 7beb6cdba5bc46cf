"""What the dashboard application holds (typed aiohttp AppKeys), its configuration, its navigation
and its Content-Security-Policy; shared by app.py, auth.py, render.py and the pages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.dashboard.cache import Cache
from handlers.context import Deps
from models.db import Database
from workflows.quality import Figures
from workflows.web_login import Viewer

MOUNT = "/dashboard"  # where bot/web.py mounts the dashboard; also the cookies' Path
SESSION_COOKIE = "civicbot_session"
LANG_COOKIE = "civicbot_lang"

# map tiles a page may show (the pages builder's map); extend with `allow_sources`
MAP_TILE_SOURCES = ("https://tile.openstreetmap.org",)


def default_csp() -> dict[str, list[str]]:
    """Only this server's own scripts, styles and images (plus map tiles); no inline code, no frames."""
    return {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", *MAP_TILE_SOURCES],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
    }


def csp_header(policy: dict[str, list[str]]) -> str:
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in policy.items())


@dataclass
class DashboardConfig:
    """Settings the dashboard's handlers read (bot/settings.py, built once)."""

    base_url: str  # as browsers reach it: CIVICBOT_PUBLIC_URL + /dashboard
    session_lifetime: timedelta
    csp: dict[str, list[str]] = field(default_factory=default_csp)

    @property
    def secure_cookies(self) -> bool:
        """Cookies only over HTTPS when the public address is HTTPS."""
        return self.base_url.startswith("https://")


@dataclass(frozen=True)
class NavItem:
    """An entry of the header's navigation: a named route, its label's catalogue key, and who sees it
    (everyone logged in, unless `visible` says otherwise)."""

    route: str
    label: str
    visible: Callable[[Viewer], bool] | None = None


class Templates:
    """The Jinja2 environment (render.environment), built when the first page is rendered: an
    instance nobody opens a page on never loads Jinja2 (about 5 MB of its memory)."""

    def __init__(self, *extra_dirs: Path) -> None:
        self.extra_dirs = extra_dirs
        self._environment: Any = None

    def get_template(self, name: str) -> Any:
        if self._environment is None:
            from bot.dashboard.render import environment

            self._environment = environment(*self.extra_dirs)
        return self._environment.get_template(name)


DB = web.AppKey("dashboard.db", Database)  # request.app[DB].sessions() / .transaction()
DEPS = web.AppKey("dashboard.deps", Deps)  # city, texts, clock, calendars
# the figures of a filter, kept FIGURES_KEPT (overview.figures_of): pages show "as of" their moment
FIGURES: web.AppKey[Cache[Figures]] = web.AppKey("dashboard.figures")
FIGURES_KEPT = timedelta(minutes=1)
CONFIG = web.AppKey("dashboard.config", DashboardConfig)
NAV: web.AppKey[list[NavItem]] = web.AppKey("dashboard.nav")  # in the order shown
TEMPLATES = web.AppKey("dashboard.templates", Templates)
PUBLIC: web.AppKey[set[str]] = web.AppKey("dashboard.public")  # route names served without a log-in

# what the log-in middleware puts in each request behind it (auth.viewer(request), auth.csrf_token)
_RequestKey: Any = getattr(web, "RequestKey", web.AppKey)  # aiohttp before 3.13: AppKey serves as well
VIEWER: web.RequestKey[Viewer] = _RequestKey("dashboard.viewer", Viewer)
CSRF: web.RequestKey[str] = _RequestKey("dashboard.csrf", str)


def allow_sources(app: web.Application, directive: str, *sources: str) -> None:
    """Let the pages load more: allow_sources(app, "img-src", "https://tiles.example.org")."""
    wanted = app[CONFIG].csp.setdefault(directive, [])
    wanted.extend(source for source in sources if source not in wanted)


def add_nav(app: web.Application, item: NavItem) -> None:
    """A page in the header's navigation (after the ones added before)."""
    app[NAV].append(item)


def public(app: web.Application, *route_names: str) -> None:
    """Routes anyone may open without logging in (the login pages, the static files)."""
    app[PUBLIC].update(route_names)
