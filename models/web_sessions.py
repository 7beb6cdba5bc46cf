"""The staff dashboard's log-in: one-time login links and browser sessions (workflows/web_login.py).

Both keep only the sha256 of their token: a copy of the database does not let anyone log in. The
sessions live here, not in a process, so every instance behind a load balancer knows them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime
from sqlmodel import Field, SQLModel


class WebLoginToken(SQLModel, table=True):
    """A login link the bot gave a staff member in private chat: valid minutes, used once."""

    __tablename__ = "web_login_tokens"

    token_hash: str = Field(primary_key=True, max_length=64)  # sha256 hex of the token in the link
    staff_id: int = Field(foreign_key="staff.id", index=True)
    created_at: datetime = Field(sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    expires_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)  # type: ignore[call-overload]
    used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]


class WebSession(SQLModel, table=True):
    """A logged-in browser: its cookie's token (hashed), whose it is, until when, its CSRF token.

    `role` and `unit` are the staff member's at log-in: a session stops working once they change
    (or the person is no longer staff), so nobody keeps a wider view than they now have.
    """

    __tablename__ = "web_sessions"

    token_hash: str = Field(primary_key=True, max_length=64)  # sha256 hex of the cookie's token
    staff_id: int = Field(foreign_key="staff.id", index=True)
    role: str = Field(max_length=16)
    unit: str | None = Field(default=None, max_length=32)
    language: str | None = Field(default=None, max_length=8)  # their chat's language at log-in
    csrf_token: str = Field(max_length=64)  # sent back in every form (POST) of the session
    created_at: datetime = Field(sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    expires_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)  # type: ignore[call-overload]
    last_seen_at: datetime = Field(sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
