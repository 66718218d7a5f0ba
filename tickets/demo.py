"""Demo and load data for a sofa-cover shop's support desk.

Two kinds of data, both relative to a ``now`` the caller reads once:

- the demo desk (``seed_demo``): a few dozen tickets for the logins of
  accounts.demo, written through the use cases (support.demo), so timelines
  and first responses are exactly what the desk itself would have recorded;
- load data (``seed_demo --tickets N``, ``bench``): many realistic tickets built
  in memory and inserted in bulk by ``bulk.tickets_bulk_load``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import User

from accounts import demo as account_demo
from accounts import permissions as roles

from . import bulk
from .models import Ticket, TicketEvent

Priority, Status, Category, Channel = Ticket.Priority, Ticket.Status, Ticket.Category, Ticket.Channel

DEMO_TICKET_COUNT = 36


# --- what customers write about ---------------------------------------------

PRODUCTS = (
    "Stretch Velvet 3-Seater Cover",
    "Waterproof Corner Sofa Protector",
    "Jacquard L-Shape Sofa Cover",
    "Pet-Proof Recliner Cover",
    "Linen-Look 2-Seater Cover",
    "Quilted Armchair Cover",
    "Chenille Cushion Cover Set (4)",
)
COLOURS = ("charcoal grey", "oatmeal", "navy", "sage green", "terracotta", "cream", "mocha")
BROWSERS = ("Chrome on Windows", "Safari on iPhone", "Firefox on a Mac", "the Android app", "Edge")


@dataclass(frozen=True)
class Scenario:
    """One thing that goes wrong, with the words each side uses. Placeholders: see ``_values``."""

    category: str
    priority: str
    subject: str
    description: str
    reply: str  # the agent's first public reply
    note: str  # an internal note
    follow_up: str  # the customer's answer


SCENARIOS: tuple[Scenario, ...] = (
    # site performance
    Scenario(
        Category.SITE_PERFORMANCE,
        Priority.P0,
        "Website down: checkout shows a 502 error",
        "Every time I press 'Place order' I get a 502 Bad Gateway page. I have tried {browser} and my "
        "phone. I need the {product} for guests arriving on Saturday.",
        "Thank you for reporting this. We can reproduce the error and our engineers are working on it "
        "right now. We will update you within the hour.",
        "Checkout 502s confirmed across regions; incident declared, on-call DevOps paged.",
        "Checkout worked for me just now, the order went through. Thanks for the quick fix!",
    ),
    Scenario(
        Category.SITE_PERFORMANCE,
        Priority.P1,
        "Product pages take over 30 seconds to load",
        "Since this morning every product page takes half a minute to open on {browser}. The {product} "
        "page sometimes times out completely.",
        "Sorry about the slow pages. We have found a slow image service and are moving traffic away "
        "from it. Pages should be back to normal shortly.",
        "p95 on /products/ at 31 s. Image CDN origin saturated; failover in progress.",
        "Much faster now, thank you.",
    ),
    Scenario(
        Category.SITE_PERFORMANCE,
        Priority.P2,
        "Product photos do not load on mobile",
        "On {browser} the photos of the {product} in {colour} stay grey. Other colours show fine.",
        "Thanks for the detail. A few {colour} photos were uploaded in a format some phones cannot "
        "show; we are re-uploading them today.",
        "Colour-variant images stored as HEIC. Asked content team to re-export as WebP/JPEG.",
        "I can see the photos now.",
    ),
    Scenario(
        Category.SITE_PERFORMANCE,
        Priority.P3,
        "Size guide is slow to open",
        "The size guide pop-up takes a few seconds every time on {browser}. Not urgent, just annoying.",
        "Thanks for the feedback. We have passed it to our web team to make the size guide lighter.",
        "Size guide loads a 4 MB PDF. Logged as enhancement for the web backlog.",
        "Good to know, thanks.",
    ),
    # authentication
    Scenario(
        Category.AUTHENTICATION,
        Priority.P0,
        "I can see another customer's orders in my account",
        "After logging in I see orders and a delivery address that are not mine. This looks like a "
        "serious privacy problem.",
        "Thank you for telling us immediately. We have locked the affected sessions while our security "
        "team investigates. Please do not share the details you saw.",
        "Possible session mix-up after cache deploy. Security breach procedure started; sessions purged.",
        "My account only shows my own orders now. Please let me know what happened.",
    ),
    Scenario(
        Category.AUTHENTICATION,
        Priority.P1,
        "Password reset email never arrives",
        "I have requested a password reset five times today and nothing arrived, not even in spam. I "
        "need to check order {order}.",
        "Sorry for the trouble. Our mail provider delayed some emails; we have resent your reset link. "
        "It is valid for 24 hours.",
        "Mail provider queue backed up ~3 h. Resent manually.",
        "Got it and I am back in. Thanks.",
    ),
    Scenario(
        Category.AUTHENTICATION,
        Priority.P1,
        "Cannot log in: 'invalid credentials' with the right password",
        "Since the update I cannot log in on {browser}, although the password is right and works in the app.",
        "Thanks for reporting this. A browser extension can interfere with our new login page; could "
        "you try a private window while we look into it?",
        "Login form breaks with some password managers autofilling the hidden field. Tier 2 to confirm.",
        "Private window works. Normal window still fails.",
    ),
    Scenario(
        Category.AUTHENTICATION,
        Priority.P2,
        "Account locked after changing my email address",
        "I changed my email address in my account and now I am locked out. The old address says the "
        "account does not exist.",
        "We have confirmed your identity and unlocked the account with your new address. You can log in again now.",
        "Email change left account unverified; verified manually after ID check on order {order}.",
        "All working, thank you.",
    ),
    Scenario(
        Category.AUTHENTICATION,
        Priority.P3,
        "Please add 'Sign in with Apple'",
        "It would be great to sign in with my Apple ID instead of another password.",
        "Thank you for the suggestion. We have added it to our list of improvements.",
        "Feature request, added to product backlog.",
        "Thanks!",
    ),
    # payment
    Scenario(
        Category.PAYMENT,
        Priority.P0,
        "Card payment fails at checkout for every card",
        "Checkout says 'Payment could not be processed' with two different cards. My bank says nothing was declined.",
        "We are sorry. Card payments are failing for several customers and our payments team is on "
        "it. No money has been taken for the failed attempts.",
        "Payment gateway returning 500 on authorise. Vendor contacted, status page updated.",
        "Payment went through this afternoon.",
    ),
    Scenario(
        Category.PAYMENT,
        Priority.P0,
        "Charged three times for one order",
        "My card was charged £{amount} three times for order {order}. I only placed one order.",
        "We are very sorry. We can see the duplicate charges and have refunded two of them; the money "
        "will be back on your card in 3-5 working days.",
        "Duplicate captures from retry bug. Refunds issued, finance informed.",
        "I can see the refunds as pending. Thank you.",
    ),
    Scenario(
        Category.PAYMENT,
        Priority.P1,
        "PayPal payment taken but order shows unpaid",
        "PayPal shows £{amount} paid for order {order}, but my account says 'awaiting payment' and the "
        "order has not shipped.",
        "Thanks for your patience. The payment reached us but the confirmation got stuck; we have "
        "marked the order paid and it ships today.",
        "PayPal IPN missed for this order. Reconciled by hand.",
        "Order shows paid now, thanks.",
    ),
    Scenario(
        Category.PAYMENT,
        Priority.P2,
        "Discount code SOFA20 not applied",
        "The newsletter code SOFA20 says 'not valid' for the {product} in {colour}.",
        "Sorry about that. The code excluded covers already on sale by mistake. We have refunded 20% "
        "of your order {order}.",
        "Promo rule excluded sale items unintentionally; marketing fixing the rule.",
        "Refund received, thank you.",
    ),
    Scenario(
        Category.PAYMENT,
        Priority.P3,
        "Invoice should show my company VAT number",
        "Could you add my company's VAT number to the invoice for order {order}?",
        "Of course. We have reissued the invoice with your VAT number; you will find it in your account.",
        "Reissued invoice manually. Checkout has no VAT field: enhancement request logged.",
        "Perfect, thanks.",
    ),
    # database
    Scenario(
        Category.DATABASE,
        Priority.P0,
        "My whole order history has disappeared",
        "My account shows no orders at all, including order {order} that has not arrived yet.",
        "Thank you for letting us know. Your orders are safe; a database replica fell behind and some "
        "accounts briefly showed no history. It should be back now.",
        "Read replica lag 40 min; reads moved to primary. Check no writes lost.",
        "I can see my orders again.",
    ),
    Scenario(
        Category.DATABASE,
        Priority.P1,
        "Saved delivery address reset to an old one",
        "My default address switched back to my old flat and order {order} is going there!",
        "We have caught order {order} before dispatch and changed it to your new address. We are "
        "checking why your saved address changed.",
        "Address table restored from backup for 14 accounts after faulty migration. Courier updated.",
        "Thank you, that was close.",
    ),
    Scenario(
        Category.DATABASE,
        Priority.P2,
        "Wishlist shows items I removed weeks ago",
        "The {product} keeps coming back to my wishlist even though I removed it twice.",
        "Thanks for reporting this. We have cleared the old items from your wishlist and fixed the "
        "sync that brought them back.",
        "Wishlist sync resurrecting deleted rows from app cache. Bug filed.",
        "Gone for good now, thanks.",
    ),
    Scenario(
        Category.DATABASE,
        Priority.P3,
        "Can I export my order history?",
        "Is there a way to download all my orders as a spreadsheet for my records?",
        "There is no export button yet, so we have emailed you a CSV of your orders. We have also "
        "suggested an export feature to our team.",
        "Exported manually from admin. Feature request logged.",
        "Got the file, thank you.",
    ),
    # orders
    Scenario(
        Category.ORDERS,
        Priority.P1,
        "Order stuck in 'processing' for five days",
        "Order {order} for a {product} has said 'processing' since last week. Express delivery was promised.",
        "Sorry for the delay. Your order was held by a stock sync error; it is now packed and will be "
        "dispatched by express today. We refunded the delivery fee.",
        "Order processing queue stalled for express orders; warehouse manually released 62 orders.",
        "Tracking number received. Thanks.",
    ),
    Scenario(
        Category.ORDERS,
        Priority.P2,
        "Received the wrong colour",
        "I ordered the {product} in {colour} (order {order}) but received a beige one.",
        "Sorry for the mix-up. We have sent the {colour} cover today and emailed you a free return "
        "label for the beige one.",
        "Picking error at warehouse, bin labels swapped. Reported to warehouse lead.",
        "The right one arrived and looks great.",
    ),
    Scenario(
        Category.ORDERS,
        Priority.P2,
        "Cover does not fit my corner sofa",
        "The {product} is too small for my corner sofa (280 cm). Can I exchange it for the large size?",
        "Of course. We have set up an exchange for the large size; the courier will bring the new "
        "cover and collect the old one on the same visit.",
        "Exchange created; customer measured correctly, size chart for L-shape is misleading.",
        "Large one fits perfectly.",
    ),
    Scenario(
        Category.ORDERS,
        Priority.P2,
        "Return label does not work",
        "The courier says the return label for order {order} is invalid.",
        "Sorry about that. The label had expired; we have emailed you a fresh one valid for 30 days.",
        "Return labels expire after 14 days but the email says 30. Raised with logistics.",
        "New label worked.",
    ),
    Scenario(
        Category.ORDERS,
        Priority.P3,
        "Can I change the delivery date?",
        "I will be away next week. Could order {order} arrive the week after?",
        "No problem, we have moved your delivery to the following week. You will get a new tracking "
        "email the day before.",
        "Delivery rebooked with courier.",
        "Great, thank you.",
    ),
    # other
    Scenario(
        Category.OTHER,
        Priority.P2,
        "Cover pilling after the first wash",
        "My {product} in {colour} is pilling badly after one wash at 30 degrees, as the label says.",
        "Sorry to hear that. That should not happen; we are sending you a replacement and would love "
        "the old one back so our quality team can look at it.",
        "Third pilling complaint on this batch this month. Flagged to quality.",
        "Replacement arrived, thanks. I will post the old one back.",
    ),
    Scenario(
        Category.OTHER,
        Priority.P3,
        "Which cover fits an IKEA Kivik 3-seater?",
        "I have a Kivik 3-seater and I am not sure whether to buy the large or extra-large {product}.",
        "For the Kivik 3-seater the large size fits best. Our size guide has a photo of it on that sofa.",
        "Common question: suggest adding a model list to the size guide.",
        "Ordered the large. Thanks for the help!",
    ),
    Scenario(
        Category.OTHER,
        Priority.P3,
        "Care instructions missing from the package",
        "There was no care label or leaflet with my {product}. How should I wash it?",
        "Wash at 30 degrees on a gentle cycle and do not tumble dry. We have emailed you the care leaflet as a PDF.",
        "Packing line missed leaflets for one batch. Warehouse informed.",
        "Thanks, washed it and it looks fine.",
    ),
    Scenario(
        Category.OTHER,
        Priority.P3,
        "Please offer more colours in the velvet range",
        "I love the velvet covers but would really like a dark green. Any plans?",
        "Thank you! We have passed your wish to our buyers; new velvet colours come every autumn.",
        "Product feedback forwarded to buying team.",
        "Fingers crossed!",
    ),
)

CUSTOMER_DETAILS = (
    "Some more detail: my order number is {order} and I am using {browser}.",
    "Adding to this: it is the {product} in {colour}, order {order}.",
    "Forgot to say: I have already tried logging out and back in, it made no difference.",
    "In case it helps, this started yesterday evening. Order {order}.",
    "I can send photos if that helps. The cover is the {colour} {product}.",
)
CUSTOMER_CHASERS = (
    "Any update on this, please?",
    "Just checking someone has seen this. Order {order}.",
    "Still waiting to hear back. Can you let me know what happens next?",
)
TRIAGE_NOTES = (
    "Triage: order {order} checked, looks genuine. Needs product specialist.",
    "Triage: asked warehouse for picking log before replying.",
    "Triage: customer has two open tickets, linking context.",
)


def scenario_values(rng: random.Random) -> dict[str, str]:
    return {
        "order": f"#{rng.randint(100000, 999999)}",
        "product": rng.choice(PRODUCTS),
        "colour": rng.choice(COLOURS),
        "browser": rng.choice(BROWSERS),
        "amount": f"{rng.randint(29, 189)}.{rng.choice(('00', '49', '95', '99'))}",
    }


SCENARIOS_BY_PRIORITY: dict[str, tuple[Scenario, ...]] = {
    priority: tuple(s for s in SCENARIOS if s.priority == priority) for priority in Priority.values
}
# A mostly routine queue with the occasional emergency.
PRIORITY_WEIGHTS = {Priority.P0: 3, Priority.P1: 12, Priority.P2: 45, Priority.P3: 40}
CHANNEL_WEIGHTS = {Channel.PORTAL: 45, Channel.EMAIL: 30, Channel.CHAT: 12, Channel.PHONE: 8, Channel.API: 5}
TIER_WEIGHTS: dict[str, tuple[int, int, int]] = {
    Priority.P0: (20, 50, 30),
    Priority.P1: (50, 40, 10),
    Priority.P2: (80, 15, 5),
    Priority.P3: (90, 8, 2),
}
# Typical time to the first public reply, per priority (inside the targets, mostly).
RESPONSE_MINUTES: dict[str, tuple[int, int]] = {
    Priority.P0: (3, 20),
    Priority.P1: (10, 75),
    Priority.P2: (20, 300),
    Priority.P3: (60, 1800),
}
RESOLUTION_MINUTES: dict[str, tuple[int, int]] = {
    Priority.P0: (20, 150),
    Priority.P1: (60, 600),
    Priority.P2: (120, 2000),
    Priority.P3: (240, 9000),
}
AUTO_CLOSE_AFTER = timedelta(days=7)


# --- the demo desk, through the services --------------------------------------

STATUS_CYCLE = (Status.NEW, Status.OPEN, Status.PENDING_CUSTOMER, Status.RESOLVED, Status.CLOSED)
CHANNEL_CYCLE = (Channel.PORTAL, Channel.EMAIL, Channel.CHAT, Channel.PHONE, Channel.API)


def demo_tickets_exist() -> bool:
    return Ticket.objects.filter(requester__username=account_demo.DEMO_CUSTOMER).exists()


# --- load data, in bulk ---------------------------------------------------------


def _weighted(rng: random.Random, weights: dict) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def load_tickets_build(
    count: int,
    *,
    customers: Sequence[User],
    agents: Sequence[User],
    now: datetime,
    seed: int = 0,
    max_age: timedelta = timedelta(days=180),
) -> Iterator[bulk.BulkTicket]:
    """``count`` realistic tickets with three messages each, created over ``max_age`` before ``now``.

    Recent tickets are mostly active, older ones resolved, and resolved ones older
    than a week closed. A public agent reply sets ``first_responded_at``; new
    tickets have only a triage note, so they have no first response yet.
    """
    if not customers or not agents:
        raise ValueError("Load tickets need at least one customer and one agent.")
    rng = random.Random(seed)
    by_tier: dict[int, list[User]] = {}
    for agent in agents:
        by_tier.setdefault(roles.agent_tier(agent) or 0, []).append(agent)
    for n in range(count):
        priority = _weighted(rng, PRIORITY_WEIGHTS)
        scenario = rng.choice(SCENARIOS_BY_PRIORITY[priority])
        tier = rng.choices((1, 2, 3), weights=TIER_WEIGHTS[priority])[0]
        agent = rng.choice(by_tier.get(tier) or agents)
        age = max_age * rng.random() ** 1.6 + timedelta(minutes=5)
        yield _load_ticket(
            scenario,
            requester=customers[n % len(customers)],
            agent=agent,
            tier=tier,
            channel=_weighted(rng, CHANNEL_WEIGHTS),
            created_at=now - age,
            now=now,
            rng=rng,
        )


def _load_ticket(
    scenario: Scenario,
    *,
    requester: User,
    agent: User,
    tier: int,
    channel: str,
    created_at: datetime,
    now: datetime,
    rng: random.Random,
) -> bulk.BulkTicket:
    values = scenario_values(rng)
    age = now - created_at
    active_share = 0.9 if age < timedelta(days=1) else 0.5 if age < timedelta(days=3) else 0.03
    if rng.random() < active_share:
        status = rng.choices((Status.NEW, Status.OPEN, Status.PENDING_CUSTOMER), weights=(30, 45, 25))[0]
    else:
        status = Status.RESOLVED  # closed below if it was resolved more than a week ago
    # Offsets from created_at, squeezed to fit when the ticket is younger than its story.
    detail = timedelta(minutes=rng.randint(2, 30))
    low, high = RESPONSE_MINUTES[scenario.priority]
    reply = detail + timedelta(minutes=rng.randint(low, high))
    third = reply + timedelta(minutes=rng.randint(15, 600))
    low, high = RESOLUTION_MINUTES[scenario.priority]
    resolve = third + timedelta(minutes=rng.randint(low, high))
    last = resolve if status == Status.RESOLVED else third
    if last > age * 0.95:
        scale = age * 0.95 / last
        detail, reply, third, resolve = detail * scale, reply * scale, third * scale, resolve * scale

    requester_id, agent_id = requester.pk, agent.pk
    events = [bulk.BulkEvent(TicketEvent.Kind.CREATED, created_at, requester_id, new_value=scenario.priority)]
    messages = [bulk.BulkMessage(requester_id, rng.choice(CUSTOMER_DETAILS).format(**values), created_at + detail)]
    events.append(bulk.BulkEvent(TicketEvent.Kind.REPLIED, created_at + detail, requester_id))
    first_responded_at = resolved_at = closed_at = None
    assignee_id: int | None = agent_id
    if status == Status.NEW:
        if rng.random() < 0.5:
            assignee_id = None
        else:
            events.append(
                bulk.BulkEvent(TicketEvent.Kind.ASSIGNED, created_at + reply, agent_id, "assignee", "", agent.username)
            )
        messages += [
            bulk.BulkMessage(
                agent_id,
                rng.choice(TRIAGE_NOTES).format(**values),
                created_at + reply,
                by_agent=True,
                internal=True,
            ),
            bulk.BulkMessage(requester_id, rng.choice(CUSTOMER_CHASERS).format(**values), created_at + third),
        ]
        events += [
            bulk.BulkEvent(TicketEvent.Kind.NOTE_ADDED, created_at + reply, agent_id, internal=True),
            bulk.BulkEvent(TicketEvent.Kind.REPLIED, created_at + third, requester_id),
        ]
    else:
        first_responded_at = created_at + reply
        events += [
            bulk.BulkEvent(TicketEvent.Kind.ASSIGNED, first_responded_at, agent_id, "assignee", "", agent.username),
            bulk.BulkEvent(TicketEvent.Kind.REPLIED, first_responded_at, agent_id),
            bulk.BulkEvent(
                TicketEvent.Kind.STATUS_CHANGED,
                first_responded_at,
                agent_id,
                "status",
                Status.NEW,
                Status.OPEN,
            ),
        ]
        messages.append(bulk.BulkMessage(agent_id, scenario.reply.format(**values), first_responded_at, by_agent=True))
        if status == Status.PENDING_CUSTOMER or rng.random() < 0.4:
            messages.append(
                bulk.BulkMessage(
                    agent_id, scenario.note.format(**values), created_at + third, by_agent=True, internal=True
                )
            )
            events.append(bulk.BulkEvent(TicketEvent.Kind.NOTE_ADDED, created_at + third, agent_id, internal=True))
        else:
            messages.append(bulk.BulkMessage(requester_id, scenario.follow_up.format(**values), created_at + third))
            events.append(bulk.BulkEvent(TicketEvent.Kind.REPLIED, created_at + third, requester_id))
        if status == Status.PENDING_CUSTOMER:
            events.append(
                bulk.BulkEvent(
                    TicketEvent.Kind.STATUS_CHANGED,
                    created_at + third,
                    agent_id,
                    "status",
                    Status.OPEN,
                    Status.PENDING_CUSTOMER,
                )
            )
        elif status == Status.RESOLVED:
            resolved_at = created_at + resolve
            events.append(
                bulk.BulkEvent(
                    TicketEvent.Kind.STATUS_CHANGED,
                    resolved_at,
                    agent_id,
                    "status",
                    Status.OPEN,
                    Status.RESOLVED,
                )
            )
            if resolved_at + AUTO_CLOSE_AFTER <= now:
                status, closed_at = Status.CLOSED, resolved_at + AUTO_CLOSE_AFTER
                events.append(
                    bulk.BulkEvent(
                        TicketEvent.Kind.STATUS_CHANGED,
                        closed_at,
                        None,
                        "status",
                        Status.RESOLVED,
                        Status.CLOSED,
                    )
                )
    ticket = Ticket(
        subject=scenario.subject.format(**values),
        description=scenario.description.format(**values),
        priority=scenario.priority,
        status=status,
        tier=tier,
        channel=channel,
        category=scenario.category,
        requester_id=requester_id,
        assignee_id=assignee_id,
        created_at=created_at,
        updated_at=max(event.at for event in events),
        first_responded_at=first_responded_at,
        resolved_at=resolved_at,
        closed_at=closed_at,
    )
    return bulk.BulkTicket(ticket=ticket, messages=messages, events=events)


def load_tickets_create(
    count: int,
    *,
    customers: Sequence[User],
    agents: Sequence[User],
    now: datetime,
    seed: int = 0,
    batch_size: int = 2000,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Build and bulk-insert ``count`` load tickets; the one loader seed_demo and bench share."""
    return bulk.tickets_bulk_load(
        tickets=load_tickets_build(count, customers=customers, agents=agents, now=now, seed=seed),
        batch_size=batch_size,
        on_batch=on_batch,
    )
