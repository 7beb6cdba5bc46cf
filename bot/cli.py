"""The `civicbot` command: run the bot, chat in the terminal, classify a text, migrate, check config."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from typing import Annotated

import typer

from bot.settings import Settings
from locales import load_catalogues

cli = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="civicbot: a complaint desk for local governments on Telegram and WhatsApp.",
)

NO_TOKEN = """\
TELEGRAM_BOT_TOKEN is not set, so civicbot runs on the local console channel.
To serve Telegram: talk to @BotFather in Telegram, send /newbot, and start again with
    TELEGRAM_BOT_TOKEN=123456:ABC... civicbot run
To try the conversation in this terminal at any time: civicbot chat
"""


def _logging(settings: Settings, quiet: bool = False) -> None:
    level = logging.WARNING if quiet else getattr(logging, settings.log_level.upper(), logging.INFO)
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)


def _settings() -> Settings:
    from workflows.city_config import ConfigError

    settings = Settings()
    try:
        from bot.app import city_config_path
        from workflows.city_config import load_city_config

        load_city_config(city_config_path(settings), load_catalogues())
    except ConfigError as error:
        typer.echo("The city configuration has problems:\n" + str(error), err=True)
        raise typer.Exit(2) from error
    return settings


@cli.command()
def run() -> None:
    """Run the bot: Telegram when TELEGRAM_BOT_TOKEN is set, else the local console."""
    settings = _settings()
    from bot.app import run_console, run_telegram

    if not settings.telegram_bot_token:
        typer.echo(NO_TOKEN, err=True)
        _logging(settings, quiet=True)
        asyncio.run(run_console(settings))
        return
    _logging(settings)
    asyncio.run(run_telegram(settings))


@cli.command()
def chat() -> None:
    """Talk to the bot in this terminal, as a citizen would."""
    settings = _settings()
    from bot.app import run_console

    _logging(settings, quiet=True)
    asyncio.run(run_console(settings))


@cli.command()
def classify(text: Annotated[str, typer.Argument(help="a complaint as a citizen would write it")]) -> None:
    """Print how the bot reads a text: language, category, unit, confidence (JSON)."""
    settings = _settings()
    from bot.app import city_config_path
    from workflows.city_config import load_city_config
    from workflows.classify import describe

    city = load_city_config(city_config_path(settings), load_catalogues())
    typer.echo(json.dumps(describe(text, city), ensure_ascii=False))


@cli.command("check-config")
def check_config() -> None:
    """Validate the city configuration and say what it holds."""
    settings = _settings()
    from bot.app import city_config_path
    from workflows.city_config import load_city_config

    path = city_config_path(settings)
    city = load_city_config(path, load_catalogues())
    typer.echo(
        f"{path}: OK — {len(city.units)} units, {len(city.categories)} categories, "
        f"{len(city.areas)} areas, {len(city.sla_policies)} SLA policies"
    )


@cli.command()
def migrate() -> None:
    """Bring the database schema up to date (the bot also does this at start)."""
    settings = Settings()
    from models.db import Database

    async def _run() -> None:
        db = Database(settings.database_url)
        await db.migrate()
        await db.dispose()

    asyncio.run(_run())
    typer.echo("database is up to date")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
