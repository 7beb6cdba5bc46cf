"""Tables (SQLModel) and the database engine; migrations live in models/migrations."""

from models.broadcasts import Broadcast, BroadcastStatus
from models.citizens import Citizen
from models.conversations import Conversation
from models.inbound import ProcessedInbound
from models.links import JobRun, Lease, MessageLink
from models.outbox import OutboxMessage, OutboxStatus
from models.staff import InviteCode, LinkRequest, Role, Staff, UnitState
from models.surveys import Survey, SurveyStatus
from models.tickets import (
    OPEN_STATUSES,
    Attachment,
    Identity,
    Ticket,
    TicketEvent,
    TicketFollower,
    TicketStatus,
)
from models.web_sessions import WebLoginToken, WebSession

__all__ = [
    "OPEN_STATUSES",
    "Attachment",
    "Broadcast",
    "BroadcastStatus",
    "Citizen",
    "Conversation",
    "Identity",
    "InviteCode",
    "JobRun",
    "Lease",
    "LinkRequest",
    "MessageLink",
    "OutboxMessage",
    "OutboxStatus",
    "ProcessedInbound",
    "Role",
    "Staff",
    "Survey",
    "SurveyStatus",
    "Ticket",
    "TicketEvent",
    "TicketFollower",
    "TicketStatus",
    "UnitState",
    "WebLoginToken",
    "WebSession",
]
