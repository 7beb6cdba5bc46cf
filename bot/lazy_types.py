"""aiogram's Telegram types, validated by schemas built when a type is first used, not all at import.

Importing aiogram builds the pydantic schema of each of its ~400 types and methods: about 110 MB of
memory and a second of start-up, most of it for types this bot never receives or sends (stories,
gifts, payments, business accounts…). Here aiogram is imported with pydantic's `defer_build` on and
its closing `model_rebuild` loop deferred: each type keeps the namespace that loop would have given
it, and pydantic builds its schema the first time it validates or serialises (an update, a
sendMessage). An idle bot holds about 55 MB of aiogram instead of 165 MB.

It relies on pydantic internals (`ConfigWrapper`, `__pydantic_parent_namespace__`); should they
change, aiogram is imported the ordinary way, with a warning. `CIVICBOT_EAGER_TYPES=1` turns it off.
Only the bot's own process uses it (bot/__init__.py); tests that import aiogram first get the
ordinary import, and the end-to-end tests run the bot process with it on.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

log = logging.getLogger(__name__)

WARM = ("Update", "Message", "CallbackQuery", "User", "Chat")  # what every update needs: built at start


def install() -> bool:
    """Import aiogram with its types deferred; False if it was imported already or cannot be."""
    if "aiogram" in sys.modules or os.environ.get("CIVICBOT_EAGER_TYPES"):
        return False
    try:
        from pydantic import BaseModel
        from pydantic._internal import _config
    except ImportError:  # pragma: no cover - pydantic 1 is not supported anyway
        return False
    original_getattr = _config.ConfigWrapper.__getattr__  # type: ignore[attr-defined]
    original_rebuild = BaseModel.__dict__["model_rebuild"]
    namespaces: dict[type[Any], dict[str, Any]] = {}

    def deferred_getattr(self: Any, name: str) -> Any:
        return True if name == "defer_build" else original_getattr(self, name)

    def remember(
        cls: type[Any], *args: Any, _types_namespace: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        if _types_namespace is not None:
            namespaces[cls] = _types_namespace

    _config.ConfigWrapper.__getattr__ = deferred_getattr  # type: ignore[attr-defined]
    BaseModel.model_rebuild = classmethod(remember)  # type: ignore[assignment,method-assign]
    try:
        import aiogram  # noqa: F401  (its types module ends with the deferred model_rebuild loop)
    except Exception:
        log.warning("aiogram's types could not be deferred; importing them the ordinary way", exc_info=True)
        _restore(_config, original_getattr, BaseModel, original_rebuild)
        for name in [name for name in sys.modules if name == "aiogram" or name.startswith("aiogram.")]:
            del sys.modules[name]
        return False
    finally:
        _restore(_config, original_getattr, BaseModel, original_rebuild)
    from aiogram import methods, types

    # pydantic rebuilds a deferred model on first use with its parent namespace: give each type the
    # one aiogram's loop would have passed (the forward references between the types), and the
    # methods (sendMessage…, which have no such loop) the same
    shared = next(iter(namespaces.values()), None)
    if shared is None:
        log.warning("aiogram did not rebuild its types as expected; its types are built at first use")
        shared = {}
    shared = {**shared, **{name: getattr(methods, name) for name in methods.__all__}}
    models = {getattr(module, name) for module in (types, methods) for name in module.__all__}
    for cls in models:
        if isinstance(cls, type) and issubclass(cls, BaseModel):
            parent = dict(getattr(cls, "__pydantic_parent_namespace__", None) or {})
            cls.__pydantic_parent_namespace__ = {**namespaces.get(cls, shared), **parent}

    for name in WARM:
        model = getattr(types, name)
        model.model_rebuild()
    return True


def _restore(config: Any, getattr_: Any, base: Any, rebuild: Any) -> None:
    config.ConfigWrapper.__getattr__ = getattr_
    base.model_rebuild = rebuild
