"""What this organisation may send next on a case, and to whom: the answer forms the case page offers.

Who may send which template is `hub/core/case_view.py`'s rule (`case_access`, `MESSAGE_ACTIONS`), asked
here with the viewer's role on the case (as the hub reports it) and its directory kind; this module only
adds *when* each is due, read from the case the hub shows the viewer:

- a recipient acknowledges a referral still in its inbox, reports a decision until it has one, asks the
  originator for information, passes an uploader's counter-notice on once it restricted the content
  (answering its own decision), and confirms deletion once the case was withdrawn from it (answering
  the withdrawal; also on a closed case, which takes nothing else);
- the originator withdraws, closes, and answers a counter-notice by withdrawing from the platform that
  passed it on (the catalogue has no other reply to a counter-notice);
- whoever was asked for information answers each request addressed to it that it has not answered;
- a police liaison the case was shared with asks the recipients it sees for information.

`recipients` says to whom each form goes; the hub checks it all again on submission.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.core.case_view import MESSAGE_ACTIONS, CaseAccess, Member, case_access

FINAL_STATES = ("actioned", "declined", "withdrawn")
REFERRALS = ("takedown-request", "assistance-request")


@dataclass(frozen=True)
class Step:
    """One form due on the case: its template, its button's words (English, the catalogue's key,
    filled in with `values`), the message it answers."""

    message_type: str
    label: str
    in_reply_to: str | None = None
    values: Mapping[str, str] = field(default_factory=dict)

    def href(self, case_id: str) -> str:
        path = f"/cases/{case_id}/reply/{self.message_type}"
        return f"{path}?in_reply_to={self.in_reply_to}" if self.in_reply_to else path


def access_of(case: dict[str, Any], me: str, kind: str) -> CaseAccess | None:
    """The viewer's access by the one rule, from its role on the case and its directory kind."""
    role = str(case.get("your_role", ""))
    return case_access(me, {me: Member(role, kind)}) if role else None


# Who starts a referral from the console's menu: a hotline or a support service. A platform, a police
# liaison or a regulator answers, asks and follows cases (from the case page), so its menu offers no
# "New takedown request" (the hub's intake, not the menu, decides what may be sent).
STARTS_REFERRALS = frozenset({"hotline", "support-service"})


def starts_referrals(kind: str) -> bool:
    return kind in STARTS_REFERRALS


def may_send(access: CaseAccess | None, message_type: str) -> bool:
    action = MESSAGE_ACTIONS.get(message_type)
    return access is not None and action is not None and access.may(action)


def messages(case: dict[str, Any], message_type: str | None = None) -> list[dict[str, Any]]:
    """The case's accepted messages as its timeline shows them (id, type, sender, addressees)."""
    return [
        e
        for e in case.get("timeline", [])
        if e.get("event") == "message.accepted"
        and e.get("message_id")
        and (message_type is None or e.get("message_type") == message_type)
    ]


def message(case: dict[str, Any], message_id: str | None) -> dict[str, Any] | None:
    return next((e for e in messages(case) if e["message_id"] == message_id), None)


def referral_id(case: dict[str, Any]) -> str | None:
    return next((e["message_id"] for e in messages(case) if e.get("message_type") in REFERRALS), None)


def _mine(case: dict[str, Any], me: str) -> dict[str, Any] | None:
    return next((r for r in case.get("recipients", []) if r.get("participant_id") == me), None)


def steps(
    case: dict[str, Any], me: str, kind: str, answered: Iterable[str] = (), referral: str | None = None
) -> list[Step]:
    """The forms due for this viewer; `answered`: the messages it already answered (its own record)."""
    access = access_of(case, me, kind)
    if access is None:
        return []
    done = set(answered)
    closed = case.get("status") == "closed"
    referral = referral or referral_id(case)
    found: list[Step] = []
    mine = _mine(case, me) if case.get("your_role") == "recipient" else None
    if mine is not None:
        found += _recipient_steps(case, me, mine, referral, closed)
    if closed:
        return [s for s in found if may_send(access, s.message_type)]
    if case.get("your_role") == "originator":
        found += _originator_steps(case, done)
    if case.get("your_role") == "shared":
        found.append(Step("information-request", "Ask for information"))
    for asked in messages(case, "information-request"):
        if me in asked.get("to", []) and asked["message_id"] not in done:
            label = "Answer the information request {id}"
            found.append(
                Step("information-response", label, asked["message_id"], {"id": asked["message_id"][:8]})
            )
    return [s for s in found if may_send(access, s.message_type)]


def _originator_steps(case: dict[str, Any], done: set[str]) -> list[Step]:
    found = []
    if case.get("status") != "withdrawn":
        found.append(Step("withdrawal", "Withdraw the referral"))
    states = {r["participant_id"]: r.get("state") for r in case.get("recipients", [])}
    for appeal in messages(case, "counter-notice"):
        platform = appeal.get("actor")
        if appeal["message_id"] not in done and states.get(platform) not in (None, "withdrawn"):
            label = "Answer the counter-notice: withdraw from {platform}"
            found.append(Step("withdrawal", label, appeal["message_id"], {"platform": str(platform)}))
    found.append(Step("case-closure", "Close the case"))
    return found


def _recipient_steps(
    case: dict[str, Any], me: str, mine: dict[str, Any], referral: str | None, closed: bool
) -> list[Step]:
    state = mine.get("state")
    found: list[Step] = []
    deletion = mine.get("deletion")
    if state == "withdrawn" and deletion and not deletion.get("confirmed"):
        withdrawal = next((w for w in reversed(messages(case, "withdrawal")) if me in w.get("to", [])), None)
        if withdrawal is not None:
            found.append(Step("deletion-confirmation", "Confirm deletion", withdrawal["message_id"]))
    if closed:
        return found
    if referral and state in ("queued", "retrieved"):
        found.append(Step("acknowledgement", "Acknowledge", referral))
    if referral and state not in FINAL_STATES:
        found.append(Step("status-update", "Report a decision", referral))
    if state == "actioned":
        decisions = [d for d in messages(case, "status-update") if d.get("actor") == me]
        if decisions:
            label = "Pass on a counter-notice"
            found.append(Step("counter-notice", label, decisions[-1]["message_id"]))
    if state != "withdrawn":
        found.append(Step("information-request", "Ask the sender for information", referral))
    return found


def recipients(message_type: str, case: dict[str, Any], in_reply_to: str | None) -> list[str]:
    """To whom a form on this case goes."""
    answered = message(case, in_reply_to)
    originator = str(case["opened_by"])
    visible = [str(r["participant_id"]) for r in case.get("recipients", [])]
    if message_type == "information-response":
        return [str(answered["actor"])] if answered else []
    if message_type == "information-request":
        return [originator] if case.get("your_role") == "recipient" else visible
    if message_type == "withdrawal":
        if answered is not None and answered.get("message_type") == "counter-notice":
            return [str(answered["actor"])]
        return visible
    if message_type == "case-closure":
        shared = [str(s["participant_id"]) for s in case.get("shared_with", [])]
        return list(dict.fromkeys(visible + shared))
    return [originator]  # acknowledgement, status-update, counter-notice, deletion-confirmation
