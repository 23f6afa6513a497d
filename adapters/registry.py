"""The registry of adapters, built explicitly from a list: what a deployment can use is written here."""

from __future__ import annotations

from collections.abc import Mapping

from adapters.base import Adapter, AdapterContext
from adapters.webhook import WebhookAdapter


def build_adapters(context: AdapterContext) -> Mapping[str, Adapter]:
    adapters: list[Adapter] = [WebhookAdapter(context)]
    return {adapter.name: adapter for adapter in adapters}
