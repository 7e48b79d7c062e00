"""Text banks for support conversations and reviews.

Each situation has a topic and a sentiment (``LABELS``), following the sentiment digest's topics:
shipping, product_quality, staff, pricing, returns. Wording is varied on purpose, so that a
sentiment or topic model has something to learn.
"""

from __future__ import annotations

import random

TOPICS: tuple[str, ...] = ("shipping", "product_quality", "staff", "pricing", "returns")

LINES: dict[str, tuple[str, ...]] = {
    # --- what customers write ---
    "late_first": (
        "Hi, my order {order} with the {item} was due yesterday. Could you tell me where it is?",
        "Hello, the tracking for order {order} has not moved for two days. Any update?",
        "Can you check the delivery status of my {item}, please? Order {order}.",
    ),
    "late_angry": (
        "This is the second time I am writing. Still no {item} and no dispatch confirmation.",
        "Order {order} is a week late and nobody answers. This is completely unacceptable.",
        "You promised the {item} would ship two days ago. It has not. I am really frustrated.",
        "Terrible delivery service. My {item} is lost and I am tired of waiting.",
    ),
    "address_change": (
        "I entered my old address on order {order}. Could you change it to my new one?",
        "Oops, I used my previous shipping address for {order}. Can you update it, please?",
        "Hi! Order {order} is going to my old flat. Is it possible to change the address?",
    ),
    "thanks": (
        "Thank you so much, that was quick! Great service.",
        "Brilliant, thanks for sorting it so fast. You made my day.",
        "Perfect, thank you! Really appreciate how helpful you were.",
        "Wonderful, thanks a lot. I love shopping with you.",
    ),
    "question": (
        "Could you tell me a bit more about the {item} before I order another one?",
        "Will the {item} be back in stock soon? I would like to buy it as a gift.",
        "Is there a loyalty discount on {category} at the moment?",
        "How long is the warranty on the {item}?",
    ),
    "defect": (
        "The {item} broke on the first use. Really disappointed with the quality.",
        "The {item} arrived damaged and looks cheap. Not what I paid for.",
        "My {item} is faulty. I expected much better quality from you.",
    ),
    "slow_refund": (
        "I sent the {item} back two weeks ago and still have no refund. This is ridiculous.",
        "Your return process is a nightmare. I want my money back for {order} now.",
        "Still waiting for my refund on {order}. Nobody replies to my emails, very poor.",
    ),
    "complaint_pricing": (
        "Your prices for {category} went up again. I can find the same much cheaper elsewhere.",
        "Why did I pay full price for the {item} when it was on sale a week later? Not fair.",
        "Shipping costs are far too high now. I am thinking about shopping somewhere else.",
    ),
    "complaint_staff": (
        "The staff member in your store was rude and did not listen to me at all.",
        "Nobody in the store wanted to help me. Very poor service.",
    ),
    "complaint_returns": (
        "Returning my {item} was far too complicated. I am not sure I will order again.",
        "The return label never arrived and I had to pay postage myself. Disappointing.",
    ),
    "complaint_quality": (
        "The quality of your {category} has really gone down. My {item} already looks worn.",
        "I used to love your {category}, but the last ones were poor quality.",
    ),
    # --- what the bot and the agents answer ---
    "reply_late_bot": (
        "Hi {first}, your package was delayed at our warehouse and should ship out today.",
        "Hi {first}, sorry for the delay. Your order is being packed and ships today.",
    ),
    "reply_late_agent": (
        "I am so sorry, {first}. I can see your earlier message; I have pushed the warehouse and "
        "you will have tracking today.",
        "{first}, I understand your frustration. I have upgraded your delivery to express.",
    ),
    "reply_address": (
        "Thanks {first}, I have updated the delivery address on your order.",
        "Done, {first}! The order will go to your new address.",
    ),
    "reply_question": (
        "Thanks for asking, {first}. You will find all the details on the product page.",
        "Good question, {first}! I have emailed you everything you need to know.",
    ),
    "reply_defect": (
        "I am sorry to hear that, {first}. We will replace it or refund you in full.",
        "Thank you for telling us, {first}. I have logged the fault with our quality team.",
    ),
    "reply_complaint": (
        "I understand, {first}, and I am sorry. I have passed this on to the team.",
        "Thanks for the honest feedback, {first}. Let me see what we can do for you.",
    ),
    "reply_refund": (
        "I have checked your return, {first}; the refund is on its way today.",
        "Sorry for the wait, {first}. Your refund has been approved.",
    ),
}

LABELS: dict[str, tuple[str, str]] = {  # situation -> (topic, sentiment)
    "late_first": ("shipping", "neutral"),
    "late_angry": ("shipping", "negative"),
    "address_change": ("shipping", "neutral"),
    "thanks": ("staff", "positive"),
    "question": ("product_quality", "neutral"),
    "defect": ("product_quality", "negative"),
    "slow_refund": ("returns", "negative"),
    "complaint_pricing": ("pricing", "negative"),
    "complaint_staff": ("staff", "negative"),
    "complaint_returns": ("returns", "negative"),
    "complaint_quality": ("product_quality", "negative"),
}

DEFECTS: dict[str, tuple[str, ...]] = {  # category-specific ways an item turns out defective
    "dresses": ("The zipper on my {item} broke the first time I wore it.",
                "The seam of the {item} came apart after one wash."),
    "shoes": ("The sole of my {item} came off after a week.",),
    "headphones": ("My {item} stopped working after three days. The left side is silent.",),
    "beauty": ("The {item} arrived leaking all over the box.",),
    "home": ("The {item} arrived cracked.",),
    "books": ("Half the pages of {item} are printed upside down.",),
    "coffee": ("The bag of {item} was torn and the coffee tastes stale.",),
    "sports": ("The {item} ripped the second time I used it.",),
}

LEGAL_PHRASES: tuple[str, ...] = (
    "If this is not sorted by Friday I will contact my lawyer.",
    "I am considering legal action.",
    "My lawyer will be in touch about this.",
    "I will report you to consumer protection and talk to my attorney.",
)
LEGAL_WORDS: tuple[str, ...] = ("lawyer", "legal action", "attorney")

REVIEWS: dict[str, tuple[str, ...]] = {
    "positive": (
        "Love the {item}! Great quality and arrived quickly.",
        "Absolutely gorgeous {item}, the colours are so vibrant. Highly recommend.",
        "Excellent quality and friendly service. Will buy again.",
        "Really happy with my {item}, worth every cent.",
        "Fast delivery and the {item} is even better than in the photos.",
    ),
    "neutral": (
        "The {item} is okay. Does the job, nothing special.",
        "Decent quality for the price, delivery took a bit long.",
        "Average. The {item} looks slightly different from the picture.",
    ),
    "negative": (
        "The {item} broke after one use. Very poor quality, do not buy.",
        "Disappointed. The {item} arrived late and damaged.",
        "Overpriced for what you get. The {item} feels cheap.",
        "Awful experience, the {item} fell apart and the refund took weeks.",
    ),
}


def line(rng: random.Random, situation: str, *, item: str = "order", category: str = "items",
         order: str = "my order", first_name: str = "there") -> str:
    """One message for ``situation`` (a key of ``LINES``), filled in."""
    bank = LINES[situation]
    if situation == "defect" and category in DEFECTS and rng.random() < 0.6:
        bank = DEFECTS[category]
    return rng.choice(bank).format(item=item, category=category, order=order, first=first_name)


def with_legal_threat(rng: random.Random, text: str) -> str:
    return f"{text} {rng.choice(LEGAL_PHRASES)}"


def review_sentiment(rating: int) -> str:
    return "negative" if rating <= 2 else "neutral" if rating == 3 else "positive"


def review_text(rng: random.Random, rating: int, *, item: str) -> str:
    """Review text whose sentiment follows the rating (1-2 negative, 3 neutral, 4-5 positive)."""
    return rng.choice(REVIEWS[review_sentiment(rating)]).format(item=item)
