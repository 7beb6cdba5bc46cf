"""Tables (SQLModel) and the database engine; migrations live in models/migrations."""

from models.citizens import Citizen
from models.conversations import Conversation
from models.inbound import ProcessedInbound
from models.outbox import OutboxMessage, OutboxStatus
from models.tickets import OPEN_STATUSES, Attachment, Identity, Ticket, TicketEvent, TicketStatus

__all__ = [
    "OPEN_STATUSES",
    "Attachment",
    "Citizen",
    "Conversation",
    "Identity",
    "OutboxMessage",
    "OutboxStatus",
    "ProcessedInbound",
    "Ticket",
    "TicketEvent",
    "TicketStatus",
]
