"""The form token: one rendered form is one message.

When a form is shown, its message id is fixed and bound to the form's address and the session with an
HMAC keyed by the session's secret: the page carries `<message id>.<binding>` in its `message_id` input.
Every POST of that form (a retry, a double click, a resubmission) names the same message, whatever was
changed in it; the console does not sign a second message under it, it replays the one already sent
(the hub answers a replay with the same receipt) and shows its case. The browser's Back fetches the form
anew (pages are not cached) with a fresh token and puts back what was typed: that the same content from
the same form is the message already sent is `HubGateway.sent_from_form`'s part. A token that
was not made for this form in this session is refused before anything is signed.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

from hub.core.jose import b64url_encode

_BINDING_BYTES = 16


class FormTokenError(Exception):
    """The posted form token was not made by this console for this form in this session."""


def _binding(secret: str, form: str, message_id: str) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{form}\n{message_id}".encode(), hashlib.sha256)
    return b64url_encode(mac.digest()[:_BINDING_BYTES])


def issue_token(secret: str, form: str) -> str:
    """A new message id for the form at this address, bound to it and to the session's secret."""
    message_id = str(uuid.uuid4())
    return f"{message_id}.{_binding(secret, form, message_id)}"


def message_id_of(secret: str, form: str, token: str) -> str:
    """The message id a posted token names; FormTokenError if it is not bound to this form and session."""
    given, _, binding = token.partition(".")
    try:
        message_id = str(uuid.UUID(given))
    except ValueError:
        raise FormTokenError("not a form token") from None
    if not hmac.compare_digest(binding.encode("utf-8"), _binding(secret, form, message_id).encode("utf-8")):
        raise FormTokenError("not bound to this form")
    return message_id
