"""The bot's process: channels, sender, scheduler, web server. aiogram's types are built when first
used (bot/lazy_types.py), which saves an idle instance about 110 MB."""

from bot.lazy_types import install as _defer_aiogram_types

_defer_aiogram_types()
