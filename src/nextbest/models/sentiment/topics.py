"""Topic tags from text by keyword and phrase rules over light stems.

Words are lower-cased and reduced by :func:`stem` (strip one common suffix such as -ing,
-ed, -es, -s, -ly, -ment, then a doubled final consonant and a final "e"), so "shipped",
"shipping", "shipment" and "ships" all match the vocabulary word "ship". A phrase matches
when its stems occur consecutively. The vocabulary (:data:`TOPIC_VOCABULARY`):

- ``shipping``: ship, shipping, deliver, delivery, arrive, arrival, package, parcel,
  courier, carrier, tracking, transit, late, delay, ups, usps, fedex, dhl, postage, mail;
  phrases "took forever", "never came", "never arrived", "still waiting", "not arrived".
- ``product_quality``: quality, defect, defective, broken, broke, damaged, faulty, flimsy,
  durable, sturdy, stale, expired, rancid, mold, moldy, spoiled, taste, tasteless, flavor,
  fresh, texture, material, fabric, torn, ripped, leak, smell; phrases "fell apart",
  "stopped working", "doesn't work", "does not work", "poor quality".
- ``staff``: staff, employee, cashier, clerk, agent, representative, rep, manager,
  salesperson, rude, rudeness, polite, helpful, unhelpful, attitude, service;
  phrases "customer service", "customer support", "spoke to", "talked to".
- ``pricing``: price, pricey, overpriced, expensive, cheap, cheaper, cost, costly, value,
  discount, coupon, bargain, afford, affordable, dollar, money, "$"; phrases "rip off",
  "worth the money", "waste of money", "good deal", "great deal".
- ``returns``: return, refund, exchange, replacement, replace, rma; phrases "money back",
  "send back", "sent back", "store credit", "send it back", "sent it back".

Rules are deliberately short and readable; a word can tag more than one topic through
different entries (e.g. "waste of money" is pricing, "damaged" is product quality). Known
looseness: "lately" stems like "late"; "friendly" and "deal" are left out because they stem
to "friend" and match "deal with".
"""

from __future__ import annotations

import re

TOPICS: tuple[str, ...] = ("shipping", "product_quality", "staff", "pricing", "returns")

TOPIC_VOCABULARY: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # topic: (words, phrases)
    "shipping": (
        ("ship", "shipping", "deliver", "delivery", "arrive", "arrival", "package", "parcel",
         "courier", "carrier", "tracking", "transit", "late", "delay", "ups", "usps", "fedex",
         "dhl", "postage", "mail"),
        ("took forever", "never came", "never arrived", "still waiting", "not arrived"),
    ),
    "product_quality": (
        ("quality", "defect", "defective", "broken", "broke", "damaged", "faulty", "flimsy",
         "durable", "sturdy", "stale", "expired", "rancid", "mold", "moldy", "spoiled",
         "taste", "tasteless", "flavor", "fresh", "texture", "material", "fabric", "torn",
         "ripped", "leak", "smell"),
        ("fell apart", "stopped working", "doesn't work", "does not work", "poor quality"),
    ),
    "staff": (
        ("staff", "employee", "cashier", "clerk", "agent", "representative", "rep",
         "manager", "salesperson", "rude", "rudeness", "polite", "helpful",
         "unhelpful", "attitude", "service"),
        ("customer service", "customer support", "spoke to", "talked to"),
    ),
    "pricing": (
        ("price", "pricey", "overpriced", "expensive", "cheap", "cheaper", "cost", "costly",
         "value", "discount", "coupon", "bargain", "afford", "affordable", "dollar",
         "money", "$"),
        ("rip off", "worth the money", "waste of money", "good deal", "great deal"),
    ),
    "returns": (
        ("return", "refund", "exchange", "replacement", "replace", "rma"),
        ("money back", "send back", "sent back", "store credit", "send it back",
         "sent it back"),
    ),
}

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|\$")
_SUFFIXES = ("ingly", "edly", "ments", "ment", "ings", "ing", "ied", "ies", "ed", "es", "ly",
             "s")
_VOWELS = frozenset("aeiou")


def stem(word: str) -> str:
    """A light stem: one suffix off, then a doubled final consonant and a final "e".

    >>> [stem(w) for w in ("shipped", "shipping", "shipment", "ships", "prices", "pricing")]
    ['ship', 'ship', 'ship', 'ship', 'pric', 'pric']
    """
    word = word.removesuffix("'s")
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith("ss"):
                break
            word = word[: -len(suffix)] + ("y" if suffix in ("ied", "ies") else "")
            if len(word) >= 4 and word[-1] == word[-2] and word[-1] not in _VOWELS | {"l", "s"}:
                word = word[:-1]
            break
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def _stems(text: str) -> list[str]:
    return [stem(w) for w in _WORD.findall(text.lower().replace("\u2019", "'"))]


_RULES: dict[str, tuple[frozenset[str], tuple[tuple[str, ...], ...]]] = {
    topic: (
        frozenset(stem(w) for w in words),
        tuple(tuple(_stems(p)) for p in phrases),
    )
    for topic, (words, phrases) in TOPIC_VOCABULARY.items()
}


def tag_topics(text: str) -> tuple[str, ...]:
    """The topics a text mentions, in :data:`TOPICS` order.

    >>> tag_topics("The parcel arrived late and the box was damaged; I want a refund.")
    ('shipping', 'product_quality', 'returns')
    """
    stems = _stems(text)
    present = set(stems)
    joined = " " + " ".join(stems) + " "
    found: list[str] = []
    for topic in TOPICS:
        words, phrases = _RULES[topic]
        if not present.isdisjoint(words) or any(
            f" {' '.join(p)} " in joined for p in phrases
        ):
            found.append(topic)
    return tuple(found)
