"""The closing account of a fault scenario, over every scheduled action.

Each action must end in exactly one of:
- executed: the client got its message exactly once (the fake holds one message for the
  action's random_id, whose id the row records), and one outbound Message row logs it;
- cancelled / missed / failed, with its reason, and nothing reached the client.

Nothing may stay pending or claimed, and the fake may hold no message that is not an
executed action's: that would be a send the product does not know about.
"""

import time
from collections import Counter
from dataclasses import dataclass, field

from followups.models import ActionStatus, Message, ScheduledAction
from tests.faults.faketelegram import AFTER_SEND, BEFORE_SEND, DUPLICATE, KILLED, SENT, TelegramLog

UNFINISHED = (ActionStatus.PENDING, ActionStatus.SENDING)
# Where a non-executed action says why it was not sent.
REASON_FIELD = {
    ActionStatus.CANCELLED: "cancel_reason",
    ActionStatus.MISSED: "last_error",
    ActionStatus.FAILED: "last_error",
}


@dataclass
class Accounting:
    statuses: Counter = field(default_factory=Counter)
    deliveries: int = 0  # messages the clients received
    attempts: int = 0  # sends that reached Telegram, repeated random_ids included
    kills: int = 0  # worker processes killed by CrashingTelegram
    problems: list[str] = field(default_factory=list)

    @property
    def unfinished(self) -> int:
        return sum(self.statuses[status] for status in UNFINISHED)

    def __str__(self) -> str:
        counts = ", ".join(
            f"{self.statuses[s]} {s}" for s in ActionStatus.values if self.statuses[s]
        )
        return (
            f"{counts}; {self.deliveries} delivered, {self.attempts} send attempts "
            f"({self.attempts - self.deliveries} repeated random_id), {self.kills} kills; "
            f"{len(self.problems)} problems"
        )


def take(telegram: TelegramLog) -> Accounting:
    """Check every action against what the fake Telegram received."""
    deliveries = telegram.deliveries()
    events = telegram.events()
    account = Accounting(
        deliveries=len(deliveries),
        attempts=events.get(SENT, 0) + events.get(DUPLICATE, 0),
        kills=sum(events.get(KILLED[point], 0) for point in (BEFORE_SEND, AFTER_SEND)),
    )
    logged = Counter(
        Message.objects.filter(direction=Message.Direction.OUTBOUND).values_list(
            "action_id", flat=True
        )
    )
    problem = account.problems.append
    accounted: set[int] = set()
    for action in ScheduledAction.objects.select_related("prospect"):
        account.statuses[action.status] += 1
        delivery = deliveries.get(action.random_id)
        accounted.add(action.random_id)
        if action.status in UNFINISHED:
            problem(f"{action.pk} left {action.status}")
        elif action.status == ActionStatus.EXECUTED:
            if delivery is None:
                problem(f"{action.pk} executed but never reached the client")
            elif delivery.message_id != action.telegram_message_id:
                problem(
                    f"{action.pk} records message {action.telegram_message_id}, "
                    f"the client got {delivery.message_id}"
                )
            elif delivery.recipient != action.prospect.telegram_id:
                problem(f"{action.pk} reached {delivery.recipient}, not its prospect")
            if logged[action.pk] != 1:
                problem(f"{action.pk} executed, logged {logged[action.pk]} times as outbound")
        else:
            if not getattr(action, REASON_FIELD[action.status]):
                problem(f"{action.pk} {action.status} without a reason")
            if delivery is not None:
                problem(f"{action.pk} {action.status}, but the client got it")
            if logged[action.pk]:
                problem(f"{action.pk} {action.status}, but logged as outbound")
    for random_id in deliveries.keys() - accounted:
        problem(f"message with random_id {random_id} belongs to no action")
    return account


def settle(telegram: TelegramLog, timeout: float, on_timeout=lambda: "") -> Accounting:
    """Wait until no action is pending or claimed, then take the account. Fails the test
    when that does not happen in time, with the account and `on_timeout()` (e.g. logs)."""
    deadline = time.monotonic() + timeout
    while ScheduledAction.objects.filter(status__in=UNFINISHED).exists():
        if time.monotonic() > deadline:
            account = take(telegram)
            raise AssertionError(
                f"not settled in {timeout} s: {account}\n"
                + "\n".join(account.problems[:20])
                + f"\n{on_timeout()}"
            )
        time.sleep(0.2)
    return take(telegram)
