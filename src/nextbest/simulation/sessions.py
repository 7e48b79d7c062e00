"""Shopping behaviour: window-shopping visits, purchase episodes, checkouts and store orders."""

from __future__ import annotations

from functools import partial

from nextbest.simulation.aftercare import Order, after_order
from nextbest.simulation.customers import DAY_MS, Persona
from nextbest.simulation.records import Record, click, context, line, purchase, ref
from nextbest.simulation.world import SHOP, World

DEVICE_KINDS = ("mobile", "desktop", "tablet")
DISCOUNT_CODES = ("SAVE10", "WELCOME10", "SPRING15")


def device_kind(device_id: str) -> str:
    """The kind of a device (mobile, desktop, tablet), fixed by its id."""
    return DEVICE_KINDS[int(device_id[-1], 16) % 3]


def _step(w: World, time_ms: int, low_s: float = 8.0, high_s: float = 90.0) -> int:
    return time_ms + int(w.rng.uniform(low_s, high_s) * 1000)


def _view(w: World, t: int, owner: int, customer: Record, ctx: Record, index: int,
          action: str = "product_view") -> None:
    item = w.items[index]
    w.emit(t, owner, "clickstream", click(
        w.new_id("ev"), t, customer, action, ctx=ctx, item_id=item.item_id,
        category=item.category, price=item.price, quantity=1 if action == "add_to_cart" else None,
        url=f"/p/{item.item_id}"))


def browse_visit(w: World, time_ms: int, persona: Persona | None) -> int:
    """A visit that ends without an order; returns how many events it produced.

    ``persona`` None is an anonymous visitor whose device never links to a customer.
    """
    rng = w.rng
    owner = SHOP if persona is None else persona.idx
    if persona is None:
        device, country, zone = f"A{rng.getrandbits(40):010x}", "DE", "Europe/Berlin"
        customer = ref(device_id=device)
    else:
        time_ms = w.awake(persona, time_ms)
        device, country, zone = rng.choice(persona.devices), persona.country, persona.timezone
        if rng.random() < 0.4:
            w.link(time_ms, persona, customer_id=persona.customer_id, email=persona.email,
                   device_id=device)
            customer = ref(customer_id=persona.customer_id, device_id=device)
        else:
            customer = ref(device_id=device)
    channel = "app" if persona is not None and persona.app_user and rng.random() < 0.5 else "web"
    ctx = context(device=device_kind(device), channel=channel, country=country, timezone=zone,
                  session_id=w.new_id("S"))
    t = time_ms
    w.emit(t, owner, "clickstream", click(w.new_id("ev"), t, customer, "page_view", ctx=ctx,
                                          url="/"))
    count = 1
    last: int | None = None
    intent = w.visit_intent(persona, explore=0.2)
    for _ in range(rng.randint(1, 4)):
        index = w.pick_item(persona, explore=0.2, intent=intent)
        if index is None:
            continue
        if last is None and rng.random() < 0.25:
            t = _step(w, t)
            item = w.items[index]
            query = f"{item.tags[0]} {item.category}"
            w.emit(t, owner, "clickstream", click(w.new_id("ev"), t, customer, "search",
                                                  ctx=ctx, query=query))
            count += 1
        t = _step(w, t)
        _view(w, t, owner, customer, ctx, index)
        count += 1
        last = index
    if last is not None and rng.random() < 0.1:
        # Into the cart and then nothing: a cart abandoned for good.
        _view(w, _step(w, t), owner, customer, ctx, last, action="add_to_cart")
        count += 1
    return count


def _basket(w: World, persona: Persona) -> list[tuple[int, int]]:
    rng = w.rng
    size = rng.choices((1, 2, 3), weights=(6, 3, 1) if persona.tier != "high" else (4, 4, 2))[0]
    basket: dict[int, int] = {}
    intent = w.visit_intent(persona)
    for _ in range(size):
        index = w.pick_item(persona, intent=intent)
        if index is not None and index not in basket:
            basket[index] = rng.randint(1, 3) if w.items[index].consumable else 1
    return list(basket.items())


def lapsed(persona: Persona, time_ms: int) -> bool:
    """Whether the customer has lapsed by ``time_ms``: from then on they buy nothing."""
    return persona.lapse_ms is not None and time_ms >= persona.lapse_ms


def purchase_episode(w: World, persona: Persona, time_ms: int) -> None:
    """One purchase the customer's rhythm calls for: a store order or a web/app visit."""
    if w.erased[persona.idx] or lapsed(persona, time_ms):
        return  # lapsed customers stop buying: that is the churn the engine should notice
    rng = w.rng
    # Gaps stretch as engagement fades before a lapse (frequency compression).
    mean_gap = persona.gap_days / max(persona.engagement(time_ms), 0.35)
    next_at = time_ms + int(rng.gammavariate(3.0, mean_gap / 3.0) * DAY_MS)
    w.schedule(next_at, persona.idx, partial(purchase_episode, w, persona))
    t = w.awake(persona, time_ms)
    basket = _basket(w, persona)
    if not basket:
        return
    if rng.random() < persona.store_share:
        store_order(w, persona, t, basket)
        return
    device = rng.choice(persona.devices)
    channel = "app" if persona.app_user and rng.random() < 0.6 else "web"
    ctx = context(device=device_kind(device), channel=channel, country=persona.country,
                  timezone=persona.timezone, session_id=w.new_id("S"))
    customer = ref(device_id=device)
    if rng.random() < 0.5:
        w.link(t, persona, customer_id=persona.customer_id, email=persona.email, device_id=device)
        customer = ref(customer_id=persona.customer_id, device_id=device)
    w.emit(t, persona.idx, "clickstream", click(w.new_id("ev"), t, customer, "page_view",
                                                ctx=ctx, url="/"))
    for index, _ in basket:
        t = _step(w, t)
        _view(w, t, persona.idx, customer, ctx, index)
        t = _step(w, t, 20.0, 240.0)
        _view(w, t, persona.idx, customer, ctx, index, action="add_to_cart")
    abandon = 0.3 + (0.15 if persona.price_sensitive else 0.0)
    if rng.random() < abandon:
        if rng.random() < 0.45:  # some come back hours later and buy what is in the cart
            back = t + int(rng.uniform(1.0, 48.0) * 3_600_000)
            w.schedule(back, persona.idx, partial(_resume, w, persona, basket, device, channel))
        return
    checkout(w, persona, _step(w, t, 30.0, 180.0), basket, device, ctx)


def _resume(w: World, persona: Persona, basket: list[tuple[int, int]], device: str,
            channel: str, time_ms: int) -> None:
    if w.erased[persona.idx]:
        return
    t = w.awake(persona, time_ms)
    ctx = context(device=device_kind(device), channel=channel, country=persona.country,
                  timezone=persona.timezone, session_id=w.new_id("S"))
    checkout(w, persona, t, basket, device, ctx)


def _lines(w: World, t: int, basket: list[tuple[int, int]]) -> list[Record]:
    lines = []
    for index, quantity in basket:
        taken = w.take_stock(t, index, quantity)
        if taken:
            item = w.items[index]
            lines.append(line(item.item_id, item.category, taken, item.price))
    return lines


def _total(w: World, persona: Persona, lines: list[Record]) -> tuple[float, list[str]]:
    total = sum(ln["quantity"] * ln["unit_price"] for ln in lines)
    if persona.price_sensitive and w.rng.random() < 0.35:
        code = w.rng.choice(DISCOUNT_CODES)
        return total * (1.0 - int(code[-2:]) / 100.0), [code]
    return total, []


def checkout(w: World, persona: Persona, time_ms: int, basket: list[tuple[int, int]],
             device: str, ctx: Record) -> None:
    """Log in (linking the device), start checkout and place the web/app order."""
    t = time_ms
    w.link(t, persona, customer_id=persona.customer_id, email=persona.email, device_id=device)
    customer = ref(customer_id=persona.customer_id, email=persona.email, device_id=device)
    w.emit(t, persona.idx, "clickstream", click(w.new_id("ev"), t, customer, "checkout_started",
                                                ctx=ctx, url="/checkout"))
    t = _step(w, t, 60.0, 400.0)
    if lapsed(persona, t):
        return  # the night, or hours away from the cart, took them past their lapse
    lines = _lines(w, t, basket)
    if not lines:
        return  # sold out while in the cart
    if persona.loyalty_id is not None and w.rng.random() < 0.2:
        w.link(t, persona, customer_id=persona.customer_id, loyalty_id=persona.loyalty_id)
    total, codes = _total(w, persona, lines)
    order = Order(w.new_id("O"), t, ctx["channel"], customer, lines, round(total, 2))
    w.emit(t, persona.idx, "purchase", purchase(
        w.new_id("ev"), t, customer, "order", order_id=order.order_id, lines=lines,
        total=total, channel=order.channel, discount_codes=codes))
    after_order(w, persona, order)


def store_order(w: World, persona: Persona, time_ms: int, basket: list[tuple[int, int]]) -> None:
    """A till receipt: the POS knows the customer only by pos_id and/or loyalty card."""
    rng = w.rng
    roll = rng.random()
    pos_id = persona.pos_id if roll < 0.8 else None
    loyalty = persona.loyalty_id if roll >= 0.4 or pos_id is None else None
    customer = ref(pos_id=pos_id, loyalty_id=loyalty)
    if lapsed(persona, time_ms):
        return  # the night took them past their lapse
    lines = _lines(w, time_ms, basket)
    if not lines or (pos_id is None and loyalty is None):
        return
    total, codes = _total(w, persona, lines)
    order = Order(w.new_id("O"), time_ms, "pos", customer, lines, round(total, 2))
    w.emit(time_ms, persona.idx, "purchase", purchase(
        w.new_id("ev"), time_ms, customer, "order", order_id=order.order_id, lines=lines,
        total=total, channel="pos", discount_codes=codes))
    after_order(w, persona, order)
