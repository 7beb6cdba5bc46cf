"""Pages from Jinja2 templates (bot/dashboard/templates), autoescaped, with the catalogue texts.

    from bot.dashboard.render import render

    async def overview(request: web.Request) -> web.Response:
        return render(request, "overview.html", units=...)

Every template extends `base.html` (header with the city's name, the language switch, log-out, the
navigation) and fills `{% block content %}` (and `{% block title %}`). Besides what the handler
passes, a template has:

| name               | what                                                                        |
|--------------------|-----------------------------------------------------------------------------|
| `t(key, **params)` | the catalogue text in the page's language, its parameters escaped (Markup)  |
| `lang`, `languages`| the page's language; every served one                                       |
| `lang_url(code)`   | this page in another language (remembered in a cookie)                      |
| `language_name(c)` | "Bahasa Indonesia", "English"                                               |
| `viewer`           | workflows.web_login.Viewer, or None on the login pages                      |
| `csrf`             | the session's CSRF token, for every POST form (below)                       |
| `city`, `city_name`| the city's configuration, its name in the page's language                   |
| `nav`              | the navigation entries this viewer sees: `.url`, `.label`, `.current`       |
| `static(path)`     | the URL of a file in bot/dashboard/static                                   |
| `url(name, **parts)` | the URL of a named route of the dashboard                                 |
| `now`              | the injected clock's time (UTC)                                             |
| `login_minutes`    | how long a login link from the bot is valid                                 |

Every POST form carries `<input type="hidden" name="csrf" value="{{ csrf }}">`.

The page's language: `?lang=id|en` (then remembered in a cookie), else the cookie, else the
viewer's chat language, else the city's default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from markupsafe import Markup

from bot.dashboard.keys import CONFIG, CSRF, DEPS, LANG_COOKIE, MOUNT, NAV, TEMPLATES, VIEWER
from handlers.i18n import Translator
from workflows.web_login import LOGIN_VALID, Viewer

if TYPE_CHECKING:
    import jinja2

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"
LANG_COOKIE_SECONDS = 365 * 24 * 3600


def environment(*extra_dirs: Path) -> jinja2.Environment:
    """Templates from extra_dirs first, then bot/dashboard/templates; every one autoescaped."""
    import jinja2  # at the first page (keys.Templates), not at start

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([*map(str, extra_dirs), str(TEMPLATE_DIR)]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt name fails loudly instead of rendering empty
        trim_blocks=True,
        lstrip_blocks=True,
    )


def translator(texts: Translator, lang: str) -> Callable[..., Markup]:
    """t(key, **params) in one language: the catalogue's markup kept, every parameter escaped."""

    def t(key: str, **params: Any) -> Markup:
        return Markup(texts.template(key, lang)).format(**params)

    return t


def chosen_language(request: web.Request) -> str | None:
    """The language asked for with ?lang=, if it is served."""
    wanted = request.query.get("lang", "")
    return wanted if wanted in request.app[DEPS].texts.languages else None


def page_language(request: web.Request) -> str:
    """?lang=, else the cookie, else the viewer's language, else the city's default."""
    texts = request.app[DEPS].texts
    viewer: Viewer | None = request.get(VIEWER)
    for candidate in (
        chosen_language(request),
        request.cookies.get(LANG_COOKIE),
        viewer.language if viewer else None,
    ):
        if candidate in texts.languages:
            return str(candidate)
    return texts.default_language


@dataclass(frozen=True)
class NavLink:
    url: str
    label: Markup
    current: bool


def nav_links(request: web.Request, viewer: Viewer | None, t: Callable[..., Markup]) -> list[NavLink]:
    if viewer is None:
        return []
    current = request.match_info.route.name if request.match_info.route else None
    router = request.app.router
    return [
        NavLink(url=str(router[item.route].url_for()), label=t(item.label), current=item.route == current)
        for item in request.app[NAV]
        if item.visible is None or item.visible(viewer)
    ]


def context(request: web.Request) -> dict[str, Any]:
    """What every template gets (see the module's doc)."""
    deps = request.app[DEPS]
    lang = page_language(request)
    t = translator(deps.texts, lang)
    viewer: Viewer | None = request.get(VIEWER)
    router = request.app.router

    def url(name: str, **parts: str) -> str:
        return str(router[name].url_for(**parts))

    return {
        "t": t,
        "lang": lang,
        "languages": sorted(deps.texts.languages, key=lambda code: code != deps.texts.default_language),
        "lang_url": lambda code: str(request.rel_url.update_query(lang=code)),
        "language_name": lambda code: deps.texts.plain("dashboard.language_name", code),
        "viewer": viewer,
        "csrf": request.get(CSRF) or "",
        "city": deps.city,
        "city_name": deps.city.city.name.get(lang),
        "nav": nav_links(request, viewer, t),
        "static": lambda path: str(router["static"].url_for(filename=path)),
        "url": url,
        "now": deps.clock.now(),
        "request": request,
        "base_url": request.app[CONFIG].base_url,
        "login_minutes": int(LOGIN_VALID.total_seconds() // 60),
    }


def render(request: web.Request, template: str, *, status: int = 200, **values: Any) -> web.Response:
    """The template filled with the page's context and `values`, as an HTML response."""
    page = request.app[TEMPLATES].get_template(template).render({**context(request), **values})
    response = web.Response(text=page, status=status, content_type="text/html", charset="utf-8")
    chosen = chosen_language(request)
    if chosen is not None:
        response.set_cookie(
            LANG_COOKIE,
            chosen,
            max_age=LANG_COOKIE_SECONDS,
            path=MOUNT,
            httponly=True,
            samesite="Lax",
            secure=request.app[CONFIG].secure_cookies,
        )
    return response
