"""Global participant ids (docs/federation.md, section 2): a participant is named `<local id>@<home hub
id>` on every hub but its own. One home for reading and writing them."""

from __future__ import annotations

SEPARATOR = "@"


def global_id(local: str, home_hub: str) -> str:
    """The id under which `local`, a participant of `home_hub`, is known on the other hubs."""
    return f"{local}{SEPARATOR}{home_hub}"


def local_on(participant: str, hub_id: str) -> str | None:
    """The local id of `participant` if it names, globally, a participant of `hub_id`; else None."""
    local, separator, home = participant.partition(SEPARATOR)
    return local if separator and home == hub_id and SEPARATOR not in local and local else None


def home_hub_of(participant: str) -> str | None:
    """The hub a global id names, None for a local id."""
    _, separator, home = participant.partition(SEPARATOR)
    return home if separator else None
