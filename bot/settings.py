"""Settings from the environment (and an optional .env file), built once at start."""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything a deployment sets; see README "Configuration"."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    telegram_bot_token: str | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_base: str = Field(default="https://api.telegram.org", alias="TELEGRAM_API_BASE")
    telegram_polling_timeout: int = Field(default=30, alias="TELEGRAM_POLLING_TIMEOUT", ge=1)
    # webhook mode instead of polling when set: the public URL Telegram posts updates to (bot/webhooks.py)
    telegram_webhook_url: str | None = Field(default=None, alias="TELEGRAM_WEBHOOK_URL")
    # the X-Telegram-Bot-Api-Secret-Token every webhook request must carry; unset: derived from the token
    telegram_webhook_secret: str | None = Field(
        default=None, alias="TELEGRAM_WEBHOOK_SECRET", pattern=r"^[A-Za-z0-9_-]{1,256}$"
    )
    database_url: str = Field(default="sqlite:///data/civicbot.db", alias="CIVICBOT_DATABASE_URL")
    config_path: str | None = Field(default=None, alias="CIVICBOT_CONFIG")
    log_level: str = Field(default="INFO", alias="CIVICBOT_LOG_LEVEL")
    log_format: Literal["text", "json"] = Field(default="text", alias="CIVICBOT_LOG_FORMAT")
    outbox_poll_seconds: float = Field(default=1.0, alias="CIVICBOT_OUTBOX_POLL_SECONDS", gt=0)
    # the outbox sender's pace (bot/rate_limits.py): Telegram overall, per private chat, per group
    telegram_per_second: float = Field(default=30.0, alias="TELEGRAM_MESSAGES_PER_SECOND", gt=0)
    telegram_per_chat_per_second: float = Field(default=1.0, alias="TELEGRAM_PER_CHAT_PER_SECOND", gt=0)
    telegram_per_chat_burst: int = Field(default=3, alias="TELEGRAM_PER_CHAT_BURST", ge=1, le=20)
    telegram_group_per_minute: int = Field(default=20, alias="TELEGRAM_GROUP_PER_MINUTE", ge=1)
    # bulk messages as paid broadcasts (allow_paid_broadcast, billed in Stars) at this pace; 0 = off
    telegram_paid_broadcast_per_second: float = Field(
        default=0.0, alias="TELEGRAM_PAID_BROADCAST_PER_SECOND", ge=0, le=1000
    )
    whatsapp_per_second: float = Field(default=80.0, alias="WHATSAPP_MESSAGES_PER_SECOND", gt=0)
    # WhatsApp's messaging tier: unique people a business may start conversations with per rolling
    # 24 hours (250 for a new number; 1000, 10000, 100000 as Meta raises it). Announcements keep to it.
    whatsapp_tier: int = Field(default=250, alias="WHATSAPP_TIER", ge=1)
    # how often the broadcast runner expands announcements and updates their progress messages
    # how much sending per channel an announcement queues at a time (the rest waits in its cursor)
    broadcast_ahead_seconds: float = Field(default=10.0, alias="CIVICBOT_BROADCAST_AHEAD_SECONDS", gt=0)
    broadcast_seconds: float = Field(default=2.0, alias="CIVICBOT_BROADCAST_SECONDS", gt=0)
    # sends in flight at once (to different chats); the rate limits still hold
    outbox_concurrency: int = Field(default=8, alias="CIVICBOT_OUTBOX_CONCURRENCY", ge=1, le=64)
    # this instance's name among several on one database (who holds a channel's bulk sending); a
    # restarted instance with the same name takes its sending back at once. Empty: host, pid, random
    instance: str = Field(default="", alias="CIVICBOT_INSTANCE", max_length=64)
    outbox_lease_seconds: float = Field(default=60.0, alias="CIVICBOT_OUTBOX_LEASE_SECONDS", gt=0)
    admin_ids: str = Field(default="", alias="CIVICBOT_ADMIN_IDS")  # Telegram user ids, comma-separated
    sla_sweep_seconds: float = Field(default=30.0, alias="CIVICBOT_SLA_SWEEP_SECONDS", gt=0)
    clock_file: str | None = Field(default=None, alias="CIVICBOT_CLOCK_FILE")  # tests and demos only
    whatsapp_access_token: str | None = Field(default=None, alias="WHATSAPP_ACCESS_TOKEN")
    whatsapp_phone_number_id: str | None = Field(default=None, alias="WHATSAPP_PHONE_NUMBER_ID")
    whatsapp_app_secret: str | None = Field(default=None, alias="WHATSAPP_APP_SECRET")
    whatsapp_verify_token: str | None = Field(default=None, alias="WHATSAPP_VERIFY_TOKEN")
    whatsapp_api_base: str = Field(default="https://graph.facebook.com", alias="WHATSAPP_API_BASE")
    whatsapp_api_version: str = Field(default="v21.0", alias="WHATSAPP_API_VERSION")
    webhook_host: str = Field(default="0.0.0.0", alias="CIVICBOT_WEBHOOK_HOST")
    webhook_port: int = Field(default=8080, alias="CIVICBOT_WEBHOOK_PORT", ge=0, le=65535)
    media_dir: str = Field(default="data/media", alias="CIVICBOT_MEDIA_DIR")
    # the staff dashboard (bot/dashboard): the web server's address as browsers reach it, used in the
    # login links the bot sends (https://… behind a proxy); unset: http://localhost:<the port>
    public_url: str | None = Field(default=None, alias="CIVICBOT_PUBLIC_URL")
    # how long a dashboard log-in lasts (hours); logging out or a change of role ends it sooner
    dashboard_session_hours: float = Field(
        default=12.0, alias="CIVICBOT_DASHBOARD_SESSION_HOURS", gt=0, le=24 * 30
    )
    # the dashboard map's tiles (bot/dashboard/overview.py): a Leaflet URL template ({z} {x} {y}, and
    # {s} for subdomains); its host is added to the CSP. Empty: no tiles, the hot spots on a plain ground
    map_tiles: str = Field(
        default="https://tile.openstreetmap.org/{z}/{x}/{y}.png", alias="CIVICBOT_MAP_TILES"
    )
    map_attribution: str = Field(
        default='&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
        alias="CIVICBOT_MAP_ATTRIBUTION",  # HTML, as the tile provider asks for it
    )
    # the Open311 API's write keys (bot/open311.py): "name:key" pairs, comma-separated; the name is
    # recorded on the tickets a key files and shown to officers
    open311_api_keys: str = Field(default="", alias="OPEN311_API_KEYS", repr=False)

    @field_validator("telegram_webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(
                "TELEGRAM_WEBHOOK_URL must be an https:// URL (http:// only for a local Bot API server)"
            )
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("CIVICBOT_PUBLIC_URL must be an https:// (or http://) URL without ? or #")
        return value.rstrip("/")

    @field_validator("map_tiles")
    @classmethod
    def _map_tiles(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if value.strip() and (
            parts.scheme not in ("https", "http")
            or not parts.hostname
            or not all(part in value for part in ("{z}", "{x}", "{y}"))
        ):
            raise ValueError("CIVICBOT_MAP_TILES must be an https:// URL template with {z} {x} {y}, or empty")
        return value.strip()

    @property
    def dashboard_url(self) -> str:
        """The dashboard's external base URL: CIVICBOT_PUBLIC_URL + /dashboard."""
        return (self.public_url or f"http://localhost:{self.webhook_port}") + "/dashboard"

    @property
    def telegram_webhook_path(self) -> str:
        """The path of TELEGRAM_WEBHOOK_URL, which the web server serves."""
        return urlsplit(self.telegram_webhook_url or "").path or "/"

    @property
    def telegram_webhook_secret_token(self) -> str:
        """TELEGRAM_WEBHOOK_SECRET, or one derived from the bot token: the same on every instance (a
        random one per start would let each instance's setWebhook lock the others out), and a new one
        when the token is revoked."""
        if self.telegram_webhook_secret:
            return self.telegram_webhook_secret
        token = (self.telegram_bot_token or "").encode()
        return hmac.new(token, b"civicbot telegram webhook", hashlib.sha256).hexdigest()

    @property
    def whatsapp(self) -> bool:
        """WhatsApp is served when all four of its settings are given."""
        return all(
            (
                self.whatsapp_access_token,
                self.whatsapp_phone_number_id,
                self.whatsapp_app_secret,
                self.whatsapp_verify_token,
            )
        )

    @field_validator("open311_api_keys")
    @classmethod
    def _open311_keys(cls, value: str) -> str:
        parse_api_keys(value)  # a mistake stops the start with what to fix
        return value

    @property
    def open311_keys(self) -> dict[str, str]:
        """OPEN311_API_KEYS as {name: key}."""
        return parse_api_keys(self.open311_api_keys)

    @property
    def admins(self) -> list[str]:
        return [part.strip() for part in self.admin_ids.replace(";", ",").split(",") if part.strip()]


API_KEY_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,24}$")
API_KEY_MIN_LENGTH = 16


def parse_api_keys(value: str) -> dict[str, str]:
    """ "app:KEY1,kelurahan:KEY2" as {name: key}; ValueError naming the first malformed pair."""
    keys: dict[str, str] = {}
    for position, pair in enumerate((part.strip() for part in value.split(",")), start=1):
        if not pair:
            continue
        name, colon, key = pair.partition(":")
        name, key = name.strip(), key.strip()
        if not colon or not API_KEY_NAME.match(name):
            raise ValueError(
                f"pair {position} must be NAME:KEY with a name of up to 24 letters, digits, '.', '_' or '-'"
            )
        if len(key) < API_KEY_MIN_LENGTH:
            raise ValueError(f"the key of {name!r} must be at least {API_KEY_MIN_LENGTH} characters long")
        if name in keys or key in keys.values():
            raise ValueError(f"{name!r}: every name and every key must be used once")
        keys[name] = key
    return keys
