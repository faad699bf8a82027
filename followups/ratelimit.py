"""The per-account send rate cap, shared by all workers through one Postgres row per account.

Each send reserves the next free slot of its account (the account's `send_rate_per_minute`,
else `FOLLOWUPS_SEND_RATE_PER_MINUTE` slots a minute). A slot a moment away is waited for; a
later one is kept by the action, which goes back to pending until then. So a burst ("завтра"
said by 500 clients → 500 sends at 10:00) is spread out in due order, none dropped, instead of
getting the account limited by Telegram. Each account has its own row: one account's backlog
never delays another's sends.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from followups.models import Account, SendRate


def interval(account: Account | None = None) -> timedelta | None:
    """Time between two sends of `account` (its own cap, else the global one), or None when
    the cap is off (0)."""
    per_minute = settings.FOLLOWUPS_SEND_RATE_PER_MINUTE
    if account is not None and account.send_rate_per_minute is not None:
        per_minute = account.send_rate_per_minute
    return timedelta(minutes=1) / per_minute if per_minute else None


def reserve_slots(count: int, now: datetime | None = None, *, account: Account) -> list[datetime]:
    """Reserve the next `count` free send slots of `account`, in order, in one short transaction
    (never inside a longer one: the row lock serialises the account's sends; `durable` makes
    Django refuse one)."""
    now = now or timezone.now()
    step = interval(account)
    if step is None:
        return [now] * count
    if count == 0:
        return []
    with transaction.atomic(durable=True):
        rate, _ = SendRate.objects.select_for_update().get_or_create(
            account=account.name, defaults={"next_free_at": now}
        )
        first = max(rate.next_free_at, now)
        rate.next_free_at = first + step * count
        rate.save(update_fields=["next_free_at"])
    return [first + step * i for i in range(count)]
