"""Which commands each kind of person finds in Telegram's command menu (the "/" button).

Citizens get the default menu (bot/channels/telegram.py COMMANDS). Staff get their own in their
private chat with the bot: officers what they use there, admins that and their tools. The units'
groups get the group commands. Descriptions come from the catalogues (`commands.<name>`), in the
language Telegram picks by the person's app (Indonesian by default, English for English apps).
"""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.staff import Role, Staff

Menu = dict[str, tuple[str, ...]]  # language → commands, in the order shown

OFFICER: Menu = {
    "id": ("tugas", "antrian", "detail", "dasbor", "lapor", "status", "bahasa", "batal", "help"),
    "en": ("mytickets", "queue", "details", "dashboard", "report", "status", "language", "cancel", "help"),
}
ADMIN: Menu = {
    "id": (
        *("admin", "siaran", "unit", "petugas", "undang", "cari", "detail", "jeda", "lanjut"),
        *("tambah_admin", "hapus_admin", "dasbor", "batal", "help"),
    ),
    "en": (
        *("admin", "broadcast", "units", "officers", "invite", "find", "details", "pause", "resume"),
        *("add_admin", "remove_admin", "dashboard", "cancel", "help"),
    ),
}
QUALITY: Menu = {  # quality managers: the dashboard (bot/dashboard), nothing to act on in chat
    "id": ("dasbor", "bahasa", "help"),
    "en": ("dashboard", "language", "help"),
}
GROUP: Menu = {
    "id": ("antrian", "link", "help"),
    "en": ("queue", "link", "help"),
}


def menu_for(role: str) -> Menu:
    return ADMIN if role == Role.ADMIN else QUALITY if role == Role.QUALITY else OFFICER


NONE: Menu = {"id": (), "en": ()}  # no menu of their own: the citizens' default shows


async def staff_menus(*, session: AsyncSession, channel: str) -> dict[str, Menu]:
    """Each staff member's private chat (on Telegram: their user id) → the menu they get; someone who
    is staff no more gets NONE (their own menu is taken away)."""
    query = select(Staff.user_id, Staff.role, Staff.active).where(Staff.channel == channel)
    return {
        user_id: menu_for(role) if active else NONE for user_id, role, active in await session.exec(query)
    }
