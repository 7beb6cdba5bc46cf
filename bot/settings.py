"""Settings from the environment (and an optional .env file), built once at start."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything a deployment sets; see README "Configuration"."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    telegram_bot_token: str | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_base: str = Field(default="https://api.telegram.org", alias="TELEGRAM_API_BASE")
    telegram_polling_timeout: int = Field(default=30, alias="TELEGRAM_POLLING_TIMEOUT", ge=1)
    database_url: str = Field(default="sqlite:///data/civicbot.db", alias="CIVICBOT_DATABASE_URL")
    config_path: str | None = Field(default=None, alias="CIVICBOT_CONFIG")
    log_level: str = Field(default="INFO", alias="CIVICBOT_LOG_LEVEL")
    outbox_poll_seconds: float = Field(default=1.0, alias="CIVICBOT_OUTBOX_POLL_SECONDS", gt=0)
    telegram_per_second: float = Field(default=30.0, alias="TELEGRAM_MESSAGES_PER_SECOND", gt=0)
    outbox_lease_seconds: float = Field(default=60.0, alias="CIVICBOT_OUTBOX_LEASE_SECONDS", gt=0)
    admin_ids: str = Field(default="", alias="CIVICBOT_ADMIN_IDS")  # Telegram user ids, comma-separated
    sla_sweep_seconds: float = Field(default=30.0, alias="CIVICBOT_SLA_SWEEP_SECONDS", gt=0)
    clock_file: str | None = Field(default=None, alias="CIVICBOT_CLOCK_FILE")  # tests and demos only

    @property
    def admins(self) -> list[str]:
        return [part.strip() for part in self.admin_ids.replace(";", ",").split(",") if part.strip()]
