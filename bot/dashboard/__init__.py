"""The staff dashboard: web pages for officers, unit heads, quality managers and admins, served by the
bot's own web server at /dashboard (bot/web.py), in every run mode.

| module      | what                                                                              |
|-------------|-----------------------------------------------------------------------------------|
| `app.py`    | `dashboard_app(db=, deps=, settings=)`: the aiohttp sub-application; registrars   |
|             | (bot/dashboard/pages.py's `register`) add the pages                               |
| `auth.py`   | log-in from the bot's link, sessions, CSRF, security headers; `viewer(request)`   |
| `render.py` | `render(request, "page.html", **values)`: Jinja2, autoescaped, catalogue texts    |
| `keys.py`   | what `request.app` holds (DB, DEPS, CONFIG, NAV, TEMPLATES), `NavItem`, the CSP   |

Staff log in by sending /dasbor (/dashboard) to the bot in private chat (handlers/web_login.py);
the rules (tokens, lifetimes, who sees which unit) are workflows/web_login.py's.
"""

from bot.dashboard.app import Registrar, dashboard_app
from bot.dashboard.auth import csrf_token, viewer
from bot.dashboard.keys import MOUNT, NavItem, add_nav, allow_sources, public
from bot.dashboard.render import render
from workflows.web_login import Viewer

__all__ = [
    "MOUNT",
    "NavItem",
    "Registrar",
    "Viewer",
    "add_nav",
    "allow_sources",
    "csrf_token",
    "dashboard_app",
    "public",
    "render",
    "viewer",
]
