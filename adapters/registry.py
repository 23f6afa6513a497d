"""The registry of adapters: the built-in ones, listed here, plus those third parties publish under the
`referral_hub.adapters` entry-point group (a callable taking an `AdapterContext` and returning an
adapter). Nothing registers itself on import, and importing this module does nothing but import. A
plugin that fails to load, or to build, is logged and left out: it never stops the others or the hub.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import structlog

from adapters.base import Adapter, AdapterConfig, AdapterConfigError, AdapterContext, AdapterFactory
from adapters.coop import CoopAdapter
from adapters.email import EmailAdapter
from adapters.hma import HmaAdapter
from adapters.hub import HubAdapter
from adapters.pull import PullAdapter
from adapters.webhook import WebhookAdapter

ENTRY_POINT_GROUP = "referral_hub.adapters"
BUILT_IN: dict[str, AdapterFactory] = {
    "pull": PullAdapter,
    "webhook": WebhookAdapter,
    "email": EmailAdapter,
    "coop": CoopAdapter,
    "hma": HmaAdapter,
    "hub": HubAdapter,
}
CONFIG_TYPES: dict[str, type[AdapterConfig]] = {
    "pull": PullAdapter.config_type,
    "webhook": WebhookAdapter.config_type,
    "email": EmailAdapter.config_type,
    "coop": CoopAdapter.config_type,
    "hma": HmaAdapter.config_type,
    "hub": HubAdapter.config_type,
}

log = structlog.get_logger("hub.adapters")


def plugin_factories(points: Iterable[EntryPoint] | None = None) -> dict[str, AdapterFactory]:
    found: dict[str, AdapterFactory] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP) if points is None else points:
        if point.name in BUILT_IN:
            log.warning("adapters.plugin_shadows_builtin", plugin=point.name)
            continue
        try:
            found[point.name] = point.load()
        except Exception as exc:  # a broken plugin must not stop the hub
            log.error("adapters.plugin_failed", plugin=point.name, error=exc.__class__.__name__)
    return found


def build_adapters(
    context: AdapterContext, factories: Mapping[str, AdapterFactory] | None = None
) -> dict[str, Adapter]:
    chosen = {**BUILT_IN, **plugin_factories()} if factories is None else dict(factories)
    adapters: dict[str, Adapter] = {}
    for name, factory in chosen.items():
        try:
            adapter = factory(context)
        except Exception as exc:  # one adapter failing to build leaves the others working
            log.error("adapters.build_failed", adapter=name, error=exc.__class__.__name__)
            continue
        if adapter.name != name:
            log.error("adapters.name_mismatch", registered=name, adapter=adapter.name)
            continue
        adapters[name] = adapter
    return adapters


def validate_config(name: str, data: Mapping[str, Any], endpoint: str | None) -> None:
    """Refuse an unknown adapter or a configuration its config class rejects."""
    config_type = CONFIG_TYPES.get(name)
    if config_type is None:
        plugin = plugin_factories().get(name)
        if plugin is None:
            known = ", ".join(sorted({*CONFIG_TYPES, *plugin_factories()}))
            raise AdapterConfigError(f"no adapter named '{name}' (known: {known})")
        config_type = getattr(plugin, "config_type", None)
        if config_type is None:
            raise AdapterConfigError(f"adapter '{name}' declares no config_type")
    config_type.from_mapping(data, endpoint)


def destination_traits(name: str) -> tuple[bool, tuple[str, ...] | None]:
    """Whether adapter `name` pushes, and the message types it `carries` (None: every type), as a
    further destination of a participant needs them (a bank carries only what holds hashes)."""
    factory = BUILT_IN.get(name) or plugin_factories().get(name)
    if factory is None:
        raise AdapterConfigError(f"no adapter named '{name}'")
    carries = getattr(factory, "carries", None)
    return bool(getattr(factory, "pushes", False)), None if carries is None else tuple(carries)
