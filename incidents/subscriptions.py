"""Status page email subscribers: double opt-in and one-click unsubscribe.

The token in a subscriber's links is the only key to it: whoever holds the
confirmation mail may confirm, whoever holds an update may unsubscribe. Nothing
here says whether an address was already subscribed; the doors give one answer
whatever happened. Who is mailed is decided by the use cases (support.usecases).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext

from accounts.auth import normalise_email
from sofacover.errors import DomainError

from .models import Subscriber

UNSUBSCRIBED = "You have unsubscribed. Subscribe again on the status page to get updates."


class SubscriptionLinkInvalid(DomainError):
    """No subscription has this token (a mistyped link, or one replaced by a later subscription)."""

    code = "not_found"
    http_status = 404


@dataclass(frozen=True)
class Subscribed:
    subscriber: Subscriber
    # Whether a confirmation should be mailed: False for an address that is already confirmed.
    confirm: bool


@transaction.atomic
def subscribe(*, email: str, now: datetime) -> Subscribed:
    """Ask for status updates at ``email``; they start once the address confirms.

    A new address, or one that unsubscribed (it gets a new token: old links stop working),
    is pending until confirmed; a pending one is sent its confirmation again; a confirmed
    one stays as it is and is sent nothing.
    :raises DomainError: not an email address
    """
    address = normalise_email(email)
    try:
        validate_email(address)
    except ValidationError as exc:
        raise DomainError(gettext("Enter a valid email address."), field="email") from exc
    subscriber = Subscriber.objects.select_for_update().filter(email=address).first()
    if subscriber is None:
        try:
            with transaction.atomic():
                subscriber = Subscriber.objects.create(email=address, created_at=now)
        except IntegrityError:  # subscribed at the same moment by another request
            subscriber = Subscriber.objects.select_for_update().get(email=address)
        else:
            return Subscribed(subscriber, confirm=True)
    if subscriber.unsubscribed_at is not None:
        subscriber.token = uuid.uuid4()
        subscriber.created_at = now
        subscriber.confirmed_at = None
        subscriber.unsubscribed_at = None
        subscriber.save(update_fields=["token", "created_at", "confirmed_at", "unsubscribed_at"])
        return Subscribed(subscriber, confirm=True)
    return Subscribed(subscriber, confirm=subscriber.confirmed_at is None)


def subscriber_by_token(token: uuid.UUID | str) -> Subscriber:
    """:raises SubscriptionLinkInvalid: no subscriber has it"""
    try:
        return Subscriber.objects.get(token=token)
    except (Subscriber.DoesNotExist, ValidationError, ValueError) as exc:
        raise SubscriptionLinkInvalid(
            gettext("This link is not valid. Please use the link from our latest email.")
        ) from exc


@transaction.atomic
def confirm(*, token: uuid.UUID | str, now: datetime) -> Subscriber:
    """Confirm the address (again is harmless). A subscription that was ended needs a new one.

    :raises SubscriptionLinkInvalid: unknown token, or the subscriber unsubscribed since
    """
    subscriber = subscriber_by_token(token)
    subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
    if subscriber.unsubscribed_at is not None:
        raise SubscriptionLinkInvalid(UNSUBSCRIBED)
    if subscriber.confirmed_at is None:
        subscriber.confirmed_at = now
        subscriber.save(update_fields=["confirmed_at"])
    return subscriber


@transaction.atomic
def unsubscribe(*, token: uuid.UUID | str, now: datetime) -> Subscriber:
    """End the subscription (again is harmless): no more updates are sent to it.

    :raises SubscriptionLinkInvalid: unknown token
    """
    subscriber = subscriber_by_token(token)
    subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
    if subscriber.unsubscribed_at is None:
        subscriber.unsubscribed_at = now
        subscriber.save(update_fields=["unsubscribed_at"])
    return subscriber
