"""The participant client: what a hotline, platform or liaison imports to talk to a hub.

`envelope` builds and signs messages, `http` calls the API with fresh single-use tokens, `verify`
checks what comes out of an inbox: the sender's signature against the directory and the hub's receipt
against the hub's published key. The command line (`hub send`, `hub inbox`...) is built on it.
"""

from __future__ import annotations

from hub.client.envelope import new_envelope, sign_message
from hub.client.http import HubClient, HubError
from hub.client.verify import VerifiedMessage, verify_inbox_item

__all__ = ["HubClient", "HubError", "VerifiedMessage", "new_envelope", "sign_message", "verify_inbox_item"]
