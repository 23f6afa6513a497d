"""`hub keys rotate`: the operator rotates the hub's own signing key, bound by the previous one.

The hub is a participant of its own directory (kind `hub`), so its keys follow the directory's rule
(`hub.core.key_chain`): its first key is its registration, and each later one is added by a binding
signed by a current key, here the previous hub key, with the new key's proof of possession. The binding
is an audit-log entry like any participant's (`key.added`, issue 18), so a client that pinned the hub's
first key follows the rotation through the chain, while a key merely swapped into the key file (a second
"registration") is refused by those clients.

Steps, so that a crash leaves a state that says what happened: the new key is written beside the key
file (`<file>.next`, mode 0600, never over an existing one), the binding is applied in one transaction,
then the old file is kept as `<file>.retired-<kid>` and the new one takes its place. The old public key
stays listed, so what it signed (receipts, evidences, checkpoints) keeps verifying; every hub process must
be restarted to sign with the new key.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from datetime import UTC, datetime

from hub.cli.errors import CliError
from hub.core.binding import bind_key, fingerprint
from hub.core.jose import PrivateSigningJwk
from hub.keyfile import KeyFileError, read_signing_key, write_private_jwk
from hub.services.bindings import BindingRefused, apply_binding
from hub.settings import Settings


def add_rotate_command(keys: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rotate = keys.add_parser(
        "rotate", help="operator: rotate the hub's own signing key, bound by the previous one"
    )
    rotate.add_argument("--kid", help="the new key's id (default: <hub id>-sig-<UTC date and time>)")


def cmd_rotate(args: argparse.Namespace, settings: Settings) -> int:
    from hub.cli.operator import operator_connection

    current_path = settings.signing_key_file
    try:
        old = read_signing_key(current_path)
    except KeyFileError as exc:
        raise CliError(f"{exc}: the hub has no key to rotate (start it once: hub serve)") from None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    new = PrivateSigningJwk.generate(args.kid or f"{settings.hub_id}-sig-{stamp}")
    if new.kid == old.kid:
        raise CliError(f"the new key's id must differ from the current one ({old.kid})")
    pending = current_path.with_name(current_path.name + ".next")
    try:
        write_private_jwk(pending, new)
    except KeyFileError as exc:
        raise CliError(f"{exc} (an earlier rotation stopped half-way: check it, then remove it)") from None
    binding = bind_key(
        old,
        participant_id=settings.hub_id,
        hub_id=settings.hub_id,
        key=new.public(),
        issued_at=int(time.time()),
        new_signing_key=new,
    )

    async def apply() -> None:
        async with operator_connection(settings) as conn, conn.transaction():
            await apply_binding(conn, hub_id=settings.hub_id, text=binding, now=datetime.now(UTC))

    try:
        asyncio.run(apply())
    except BindingRefused as exc:
        pending.unlink()
        raise CliError(f"the directory refused the rotation: {exc.detail}; nothing changed") from None
    except BaseException:
        pending.unlink()
        raise
    retired = current_path.with_name(f"{current_path.name}.retired-{old.kid}")
    os.replace(current_path, retired)
    os.replace(pending, current_path)
    out = {
        "rotated": settings.hub_id,
        "previous_kid": old.kid,
        "kid": new.kid,
        "fingerprint": fingerprint(new.public()),
        "retired_key_file": str(retired),
        "note": "restart every hub process to sign with the new key; the previous key stays listed",
    }
    print(json.dumps(out, indent=2))
    return 0
