"""The participant console: a local web application for an organisation's analysts and reviewers.

It runs on the participant's own machine (`hub console`), holds the organisation's private signing key
(and, optionally, its X25519 key to open sealed fields), and talks to the hub only through the client
library (`hub.client`), exactly as the command line does. The hub never sees the keys.

Layout: `config` (what the console runs with), `app` (the aiohttp factory), `auth` (the login token,
optional passphrase, session cookie, CSRF and Host checks), `schema_form` and `form_data` (forms built
from the JSON templates, posted values turned back into JSON, schema faults mapped to fields),
`sealing` (sealing to recipients before signing, unsealing for display), `archive` (the signed messages
this console sent and received, kept locally as the organisation's own record), `evidence` (a case's
bundle for download), `render` (Jinja2 with autoescape, plain-language helpers) and `views/` (pages).
"""

from __future__ import annotations

from hub.console.app import create_console_app
from hub.console.config import ConsoleConfig

__all__ = ["ConsoleConfig", "create_console_app"]
