"""The reference platform: a small runnable platform that integrators can read and tests and demos use.

It shows, in a few hundred lines, what a platform does to take referrals from the hub, by webhook
(`POST /webhook`) or by pulling its inbox: check that the hub is calling (bearer token), drop repeats
(`Idempotency-Key`), verify the sender's signature and the hub's receipt, acknowledge at once, decide
later. `simulator` holds the design; `trust` the checks; `answers` the envelopes it signs.
`hub platform-sim` runs it. Everything it says is fictitious.
"""

from __future__ import annotations

from hub.platform_sim.answers import Decision, Referral
from hub.platform_sim.simulator import PlatformSimulator, SimulatorConfig, SimulatorStats

__all__ = ["Decision", "PlatformSimulator", "Referral", "SimulatorConfig", "SimulatorStats"]
