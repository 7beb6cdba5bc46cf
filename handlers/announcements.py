"""Citizens turning announcements off and on again: the 🔕 button under every announcement ("an|off"),
/berhenti_pengumuman and /stop_announcements (off), /pengumuman and /announcements (on).

Separate from surveys' /stop and /survei: a citizen may want one and not the other. Either way news
about their own tickets still reaches them. The rule itself (who is left out of a broadcast) is in
workflows/broadcasts.py; these only record the choice and confirm it, saying how to undo it.
"""

from __future__ import annotations

from handlers.context import Turn
from handlers.messages import Button
from workflows import broadcasts

SCOPE = "an"  # buttons that work from any message: "an|off" (under announcements), "an|on" (the undo)


async def on_button(turn: Turn, action: str) -> None:
    if action == "off":
        await opt_out(turn)
    elif action == "on":
        await opt_in(turn)
    elif action == "preview":  # the 🔕 of an announcement's preview: nothing changes
        turn.say("announcements.preview_button")
    else:
        turn.say("errors.stale_button")


async def opt_out(turn: Turn) -> None:
    """No more announcements, until /pengumuman or the button under this confirmation."""
    if turn.citizen.announcements_off_at is not None:
        turn.say("announcements.already_off", buttons=[[_undo(turn)]])
        return
    await broadcasts.set_announcements(
        session=turn.session, citizen=turn.citizen, on=False, now=turn.desk.now
    )
    turn.say("announcements.off", buttons=[[_undo(turn)]])


async def opt_in(turn: Turn) -> None:
    if turn.citizen.announcements_off_at is None:
        turn.say("announcements.already_on")
        return
    await broadcasts.set_announcements(session=turn.session, citizen=turn.citizen, on=True, now=turn.desk.now)
    turn.say("announcements.on")


def _undo(turn: Turn) -> Button:
    return Button(label=turn.label("announcements.on_button"), payload=f"{SCOPE}|on")
