"""The port every channel implements: deliver one outbound action to one chat."""

from __future__ import annotations

from typing import Protocol

from handlers.messages import Channel, Outbound


class DeliveryError(Exception):
    """A send that did not happen. `retry_after` from the platform, `permanent` when retrying is futile;
    `unreachable` (with permanent) when the person cannot be reached at all any more: they blocked the
    bot, their account is gone, the number is not on WhatsApp. The sender then marks the citizen."""

    outside_window = False  # WhatsApp: only a template may reach the person now (24-hour rule)
    channel_down = False  # every send will fail (a revoked token): hold the channel, fail no message
    parts_sent = 0  # of an action sent as several messages (a long text), those that arrived first
    # the platform answered that it failed (a 5xx): the message did not go, nor count against its limits
    not_taken = False

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        migrate_to_chat_id: str | None = None,
        unreachable: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent or unreachable
        self.unreachable = unreachable
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id  # the group moved: send there instead


class ChannelAdapter(Protocol):
    """A chat platform as the outbox sender sees it."""

    channel: Channel

    async def deliver(
        self, chat_id: str, action: Outbound, *, skip: int = 0, paid: bool = False
    ) -> str | None:
        """Send the action; return the platform's message id. Raise DeliveryError on failure.

        An action sent as several messages (a long text) starts after its first `skip` ones (they
        arrived before an earlier attempt failed); a failure says in `parts_sent` how many did.
        `paid`: a bulk message the platform may bill for a higher rate (Telegram's paid broadcast);
        channels without such a thing ignore it. Only passed when true.
        """
        ...
