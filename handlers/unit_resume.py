"""Pauses that end by themselves: the scheduler's sweep that resumes a unit once the day its pause
was set to last through is over and tells the unit's group, and the day a pause command names.

Routing does not wait for the sweep: a pause whose end has passed stops counting at once
(workflows/staff.py `paused_units`). The sweep runs in one transaction with the messages it queues,
so a unit is resumed, and its group told, once; on PostgreSQL another instance skips the rows
this one holds.
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from handlers import pipeline  # the module: pipeline → router → officer imports this one
from handlers.context import Deps, Desk, Mail
from handlers.i18n import Translator
from handlers.messages import OutText
from models.db import Database
from workflows import staff as staff_rules
from workflows.clock import as_utc

log = logging.getLogger(__name__)

_DAY = re.compile(r"^(?:(\d{4})-(\d{1,2})-(\d{1,2})|(\d{1,2})[-/.](\d{1,2})[-/.](\d{4}))$")


async def sweep(db: Database, deps: Deps) -> int:
    """Resume the units whose pause has ended and tell their groups; the number resumed."""
    async with db.transaction() as session:
        now = deps.clock.now()
        resumed = await staff_rules.resume_expired_pauses(session=session, now=now)
        desk = Desk(session=session, deps=deps, mail=Mail(), now=now)
        for unit in resumed:
            await _tell_group(desk, unit)
        pipeline.queue_mail(session, desk.mail, now)
    return len(resumed)


async def _tell_group(desk: Desk, resumed: staff_rules.Resumed) -> None:
    deps = desk.deps
    lang = deps.staff_language
    last_day = staff_rules.last_paused_day(resumed.until, deps.city.city.timezone)
    log.info("unit %s resumed: its pause until %s has ended", resumed.unit, last_day)
    group = await staff_rules.group_of(session=desk.session, unit=resumed.unit)
    if group is None or group.chat_id is None:
        return
    text = desk.staff_text(
        "unit_pause.resumed_group",
        unit=staff_rules.unit_name(deps.city, resumed.unit, lang),
        day=day_words(deps.texts, lang, last_day),
    )
    desk.mail.send(group.channel, group.chat_id, OutText(text=text))


def day_words(texts: Translator, lang: str, day: date) -> str:
    """5 Des 2026 / 5 Dec 2026."""
    months = texts.plain("unit_pause.months", lang).split()
    return f"{day.day} {months[day.month - 1]} {day.year}"


def local_day(moment: datetime, timezone: str) -> date:
    return as_utc(moment).astimezone(ZoneInfo(timezone)).date()


def parse_day(word: str) -> date | None:
    """The day a pause command names: 2026-12-05, 05-12-2026 or 5/12/2026; None if it is not one."""
    found = _DAY.match(word.strip())
    if found is None:
        return None
    year, month, day = found.group(1, 2, 3) if found.group(1) else found.group(6, 5, 4)
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None
