"""/dasbor (/dashboard) in private chat: staff get a one-time link that logs them in to the dashboard.

The link is `<CIVICBOT_PUBLIC_URL>/dashboard/login/<token>`, valid 10 minutes and used once
(workflows/web_login.py); opening it shows a "Log in" button, so Telegram's link preview does not use
it up. Someone who is not staff is told politely that the dashboard is for staff. Reached through
handlers/officer.py's commands, like the other staff commands; groups never get a link (a group's
commands are handlers/group.py's, which leaves this one alone).
"""

from __future__ import annotations

from handlers.context import Turn
from handlers.format import local_time
from handlers.messages import OutText
from workflows import web_login

COMMANDS = {"dasbor": "dashboard", "dashboard": "dashboard"}


async def login_link(turn: Turn) -> None:
    """Answer /dasbor: a login link for staff, a polite refusal for anyone else."""
    staff = turn.staff
    if staff is None:
        turn.say("dashboard.chat.not_staff")
        return
    now = turn.desk.now
    token = await web_login.issue_login(session=turn.session, staff=staff, now=now)
    text = turn.t(
        "dashboard.chat.link",
        url=f"{turn.deps.dashboard_url}/login/{token}",
        minutes=int(web_login.LOGIN_VALID.total_seconds() // 60),
        until=local_time(turn, now + web_login.LOGIN_VALID),
    )
    turn.send(OutText(text=text, secret=True))  # the outbox forgets the link once it is sent
