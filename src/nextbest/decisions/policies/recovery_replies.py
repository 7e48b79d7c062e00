"""The customer's answer to a service-recovery apology (use case 1), read.

Lisa's apology asks whether everything was resolved. Her answer comes back in the conversation
the apology named (``recovery_conversation``: the messaging system threads replies to a
message into the conversation it gives) and decides the next message:

* ``satisfied`` - "yes, all sorted, thanks": a thank-you and nothing more;
* ``disappointed`` - satisfied with what was done, disappointed all the same ("happy with the
  refund, disappointed with the dress"): a gesture proportional to her value;
* ``unresolved`` - angry, or no better ("still broken", "not really", a lawyer): a person,
  with the whole context.

The answer is read clause by clause with the sentiment lexicon: one reply often carries both
a positive and a negative clause, which a single score for the whole text averages away.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from nextbest.decisions.policies.base import Trigger
from nextbest.decisions.record import Decision
from nextbest.models.sentiment.lexicon import lexicon_score
from nextbest.profile.state import CustomerProfile

Reading = Literal["satisfied", "disappointed", "unresolved"]

CONVERSATION_PREFIX = "recovery-"
REPLY_DECISIONS = ("service_recovery", "escalation")
"""What a reply can lead to (a thank-you or a gesture is a ``service_recovery`` message, exempt
from caps like the apology): one of them, once per recovery conversation."""
CLAUSE_POSITIVE = 0.2
CLAUSE_NEGATIVE = -0.2
"""A clause reads positive (negative) at or beyond this lexicon score (VADER's compound)."""

_CLAUSES = re.compile(r"[.;!?,\n]+|\b(?:but|however|though|although|yet|except)\b",
                      re.IGNORECASE)
_UNRESOLVED = re.compile(
    r"\bnot (?:really|yet|at all|resolved|sorted|fixed|happy|satisfied)\b"
    r"|\bstill (?:broken|waiting|not|no|nothing|haven'?t|hasn'?t)\b|\bno better\b"
    r"|\bnothing (?:has )?(?:changed|happened|was done)\b|\bnobody\b|\bno one\b"
    r"|\bnever (?:arrived|came|got)\b|\bunresolved\b",
    re.IGNORECASE)


def recovery_conversation(order_id: str) -> str:
    """The conversation an apology about ``order_id`` opens for the customer's answer."""
    return f"{CONVERSATION_PREFIX}{order_id}"


def reply_trigger(conversation_id: str, decision_type: str) -> str:
    """The trigger of the decision a reply leads to: an escalation shares the conversation's
    own (so the escalation policy cannot send a second one for the same conversation)."""
    return conversation_id if decision_type == "escalation" else f"{conversation_id}:reply"


def answered(profile: CustomerProfile, conversation_id: str) -> bool:
    """Whether a reply in this recovery conversation has been acted on already."""
    return any(profile.decided(Decision.make_id(kind, profile.customer_id,
                                                reply_trigger(conversation_id, kind)))
               for kind in REPLY_DECISIONS)


def awaited_reply(profile: CustomerProfile, trigger: Trigger) -> dict[str, Any] | None:
    """The event if it is the customer's first answer in a recovery conversation (the
    recovery policy answers it; triage and escalation stand aside), else None."""
    event = trigger.event
    if (trigger.family != "support" or event is None or event["author"] != "customer"
            or event["kind"] not in ("opened", "message")
            or not str(event.get("conversation_id") or "").startswith(CONVERSATION_PREFIX)
            or not (event.get("text") or "").strip()):
        return None
    return None if answered(profile, event["conversation_id"]) else event


def clauses(text: str) -> list[str]:
    """``text`` cut at punctuation and contrasting words ("but", "however"...).

    >>> clauses("Happy with the refund, but disappointed with the dress.")
    ['Happy with the refund', 'disappointed with the dress']
    """
    return [part.strip() for part in _CLAUSES.split(text) if part and part.strip()]


def read_reply(text: str) -> Reading:
    """What the customer's answer says about the recovery.

    >>> read_reply("Happy with the refund, disappointed with the dress.")
    'disappointed'
    >>> read_reply("Yes, all sorted, thank you!"), read_reply("Not really.")
    ('satisfied', 'unresolved')
    >>> read_reply("I am furious")
    'unresolved'
    """
    if _UNRESOLVED.search(text):
        return "unresolved"
    scores = [lexicon_score(clause) for clause in clauses(text)]
    negative = any(s <= CLAUSE_NEGATIVE for s in scores)
    positive = any(s >= CLAUSE_POSITIVE for s in scores)
    if negative:
        return "disappointed" if positive else "unresolved"
    return "satisfied"
