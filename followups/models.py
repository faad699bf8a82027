"""Thin models: the rows are the truth (docs/design.md, invariant 1); behaviour lives in
services."""

import uuid
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from followups.messenger import DEFAULT_ACCOUNT
from followups.quiet_hours import validate_quiet_hours


def validate_time_zone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. Asia/Makassar)") from None


def default_time_zone() -> str:
    return settings.FOLLOWUPS_DEFAULT_TZ


class Account(models.Model):
    """A Telegram user account the agency sends from. A deployment configured only through the
    environment (TELEGRAM_SESSION) has one, named `default`; every client belongs to one.
    Empty overrides fall back to the global settings."""

    class State(models.TextChoices):
        ACTIVE = "active"
        PAUSED = "paused"
        NEEDS_LOGIN = "needs_login", "needs login"  # its session was revoked

    name = models.SlugField(max_length=64, unique=True)
    telegram_user_id = models.BigIntegerField(null=True, blank=True)  # who it logged in as
    telegram_username = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    state_reason = models.CharField(max_length=255, blank=True)
    send_rate_per_minute = models.PositiveIntegerField(null=True, blank=True)
    # "21:00-09:00", or "off"; empty: FOLLOWUPS_QUIET_HOURS.
    quiet_hours = models.CharField(max_length=11, blank=True, validators=[validate_quiet_hours])
    default_time_zone = models.CharField(max_length=64, blank=True, validators=[validate_time_zone])
    # The Telethon string session, encrypted at rest (never shown, never logged); empty when
    # the session comes from the environment.
    session = models.BinaryField(null=True, blank=True, editable=False)
    # The managers who see and act on this account's clients (the head of sales sees all).
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="followup_accounts"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


def default_account_id() -> int:
    return Account.objects.get_or_create(name=DEFAULT_ACCOUNT)[0].pk


class Prospect(models.Model):
    """A client the agent talks to in Telegram, through one account: the same Telegram user
    talking to two accounts is two prospects."""

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, default=default_account_id, related_name="prospects"
    )
    telegram_id = models.BigIntegerField()
    # Telegram needs it to address a user the account has not cached; not a secret, but
    # of no use to staff, so the admin does not show it.
    access_hash = models.BigIntegerField(null=True, blank=True)
    username = models.CharField(max_length=64, blank=True)
    display_name = models.CharField(max_length=255, blank=True)
    time_zone = models.CharField(
        max_length=64, default=default_time_zone, validators=[validate_time_zone]
    )
    language = models.CharField(max_length=8, default="ru")
    opted_out_at = models.DateTimeField(null=True, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    # The last inbound message that was more than a bare acknowledgement ("ок", "👍") of a
    # promise just made: a follow-up scheduled before it is stale (docs/design.md, invariant 4).
    last_reply_at = models.DateTimeField(null=True, blank=True)
    last_outbound_at = models.DateTimeField(null=True, blank=True)
    # Set when Telegram says the client cannot be written to (blocked us, deleted account,
    # privacy settings); nothing is sent until they write again.
    unreachable_since = models.DateTimeField(null=True, blank=True)
    unreachable_reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["username"])]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "telegram_id"], name="prospect_account_telegram_id_uniq"
            )
        ]

    def __str__(self) -> str:
        label = self.display_name or (f"@{self.username}" if self.username else "")
        return f"{label} ({self.telegram_id})" if label else str(self.telegram_id)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


MAX_LINK_LENGTH = 500
MAX_PLACE_LENGTH = 200


class Meeting(models.Model):
    class Status(models.TextChoices):
        BOOKED = "booked"
        MOVED = "moved"
        CANCELLED = "cancelled"

    prospect = models.ForeignKey(Prospect, on_delete=models.CASCADE, related_name="meetings")
    starts_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BOOKED)
    title = models.CharField(max_length=255, blank=True)
    # Where it happens, as the reminders tell the client: a video call's link, or a place.
    link = models.URLField(
        max_length=MAX_LINK_LENGTH, blank=True, validators=[URLValidator(schemes=["http", "https"])]
    )
    place = models.CharField(max_length=MAX_PLACE_LENGTH, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["starts_at"])]

    def __str__(self) -> str:
        return f"Meeting {self.pk} with {self.prospect} at {self.starts_at:%Y-%m-%d %H:%M} UTC"


class ActionType(models.TextChoices):
    FOLLOW_UP = "follow_up", "follow-up"
    REMINDER = "reminder", "reminder"
    PRE_MEETING_REMINDER = "pre_meeting_reminder", "pre-meeting reminder"


class ActionStatus(models.TextChoices):
    PENDING = "pending"
    SENDING = "sending", "sending (claimed by a worker)"
    EXECUTED = "executed"
    CANCELLED = "cancelled"
    FAILED = "failed"
    MISSED = "missed", "missed (overdue beyond grace, not sent)"


class ScheduledAction(models.Model):
    """One thing to send to one prospect at one minute.

    Every status change is a compare-and-set on `status` (docs/design.md, invariant 2); a broker
    message only names the row, so a lost or repeated message changes nothing.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    prospect = models.ForeignKey(Prospect, on_delete=models.CASCADE, related_name="actions")
    meeting = models.ForeignKey(
        Meeting, on_delete=models.CASCADE, null=True, blank=True, related_name="reminders"
    )
    action_type = models.CharField(max_length=32, choices=ActionType.choices)
    scheduled_for = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=ActionStatus.choices, default=ActionStatus.PENDING
    )
    # The client named this time themselves: kept even inside quiet hours.
    client_requested_time = models.BooleanField(default=False)
    # When this send was decided (created, or re-armed by staff). A follow-up is stale once
    # the client has replied after this moment.
    promised_at = models.DateTimeField(default=timezone.now)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=255, blank=True)
    telegram_message_id = models.BigIntegerField(null=True, blank=True)
    # Set, and committed, just before a send is attempted; with it, the exact text. A row that
    # comes back to a worker with this mark (its worker died, or its record was lost) may have
    # reached the client: the worker asks the messenger before anything else, and records
    # `executed` if it did. Cancels and the missed-run policy leave a marked row to that check.
    send_started_at = models.DateTimeField(null=True, blank=True)
    send_text = models.TextField(blank=True)
    # A send slot this action holds under the per-account rate cap (see followups.ratelimit).
    rate_slot_at = models.DateTimeField(null=True, blank=True)
    # The client's first message within 24 h after this send, set as it is recorded: the
    # outcomes page counts answers from it, with no per-send search of the messages.
    answered_at = models.DateTimeField(null=True, blank=True)
    # Staff's "send now" moves `scheduled_for` to that moment; the time promised before it is
    # kept here when it was later than that; `sent_now_by` says who (services.send_now).
    promised_for = models.DateTimeField(null=True, blank=True)
    sent_now_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["scheduled_for"]
        indexes = [
            models.Index(
                fields=["scheduled_for"],
                condition=Q(status="pending"),
                name="action_pending_due_idx",
            ),
            models.Index(fields=["status"], name="action_status_idx"),
            # Finds a worker's claimed rows, and the stale claims to release.
            models.Index(
                fields=["claim_token"], condition=Q(status="sending"), name="action_claim_idx"
            ),
            # The outcomes page (followups.outcomes): sends, and missed or failed rows, by day.
            # Every column its queries read is in the key, so they scan this index only.
            models.Index(
                fields=[
                    "executed_at",
                    "action_type",
                    "answered_at",
                    "scheduled_for",
                    "created_at",
                    "prospect",
                    "status",  # without it, PostgreSQL reads the table too (it is the condition)
                ],
                condition=Q(status="executed"),
                name="action_sent_idx",
            ),
            models.Index(
                fields=["scheduled_for"],
                condition=Q(status__in=["missed", "failed"]),
                name="action_lost_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_type_display()} {self.id} ({self.status})"

    @property
    def random_id(self) -> int:
        """Telegram's idempotency key for this action's send (docs/design.md, invariant 3).

        A signed 64-bit integer derived from the id, so every retry or redelivery of this
        action asks Telegram for the same message.
        """
        return int.from_bytes(self.id.bytes[:8], "big", signed=True)


class Message(models.Model):
    """The conversation log: what the client wrote and what was sent to them."""

    class Direction(models.TextChoices):
        INBOUND = "in"
        OUTBOUND = "out"

    prospect = models.ForeignKey(Prospect, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    text = models.TextField()
    sent_at = models.DateTimeField()
    telegram_message_id = models.BigIntegerField(null=True, blank=True)
    action = models.ForeignKey(
        ScheduledAction, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["sent_at"]
        indexes = [models.Index(fields=["prospect", "sent_at"])]

    def __str__(self) -> str:
        return f"{self.direction} {self.prospect_id} {self.sent_at:%Y-%m-%d %H:%M}"


class SendRate(models.Model):
    """The next free send slot of one Telegram account, shared by every worker."""

    account = models.CharField(max_length=64, unique=True)
    next_free_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.account}: next slot {self.next_free_at:%H:%M:%S}"


class Heartbeat(models.Model):
    """The last time a background loop (the dispatcher) finished a pass."""

    name = models.CharField(max_length=64, unique=True)
    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.beat_at:%H:%M:%S}"


class AlertState(models.Model):
    """The alerts' memory between checks (followups.alerts), one row per key.

    A condition's row ("send_failures:telegram") says whether it is firing, since when, and
    what staff were told; a channel's row ("channel:webhook") counts its notices this hour.
    `value`/`value_at` hold what a condition compares from one check to the next (the
    dead-letter queue's depth and when it last grew)."""

    key = models.CharField(max_length=128, unique=True)
    firing = models.BooleanField(default=False)
    since = models.DateTimeField(null=True, blank=True)  # start of the current/last episode
    text = models.CharField(max_length=500, blank=True)  # the latest firing text
    notified_at = models.DateTimeField(null=True, blank=True)  # last notice of this episode
    cleared_at = models.DateTimeField(null=True, blank=True)
    clear_owed = models.BooleanField(default=False)  # cleared, and staff not yet told
    value = models.BigIntegerField(null=True, blank=True)
    value_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.key}: {'firing' if self.firing else 'ok'}"


class OptOutChange(models.Model):
    """One change of a prospect's opt-out: when it was set or lifted, by whom, and why (the
    client's own words, or staff's reason). `Prospect.opted_out_at` is the current state; these
    rows are its history (followups.optout)."""

    class Kind(models.TextChoices):
        OPTED_OUT = "opted_out", "opted out"
        LIFTED = "lifted", "opt-out lifted"

    prospect = models.ForeignKey(Prospect, on_delete=models.CASCADE, related_name="opt_out_changes")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    at = models.DateTimeField()
    # "client" (their own message), "agent", or "staff (username)".
    by = models.CharField(max_length=200)
    # The client's words, or the reason staff gave.
    words = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["prospect", "at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.prospect_id} {self.at:%Y-%m-%d %H:%M}"


class OutcomeDay(models.Model):
    """A closed day (on the admin's clock, in `time_zone`) summarized in OutcomeCount rows:
    the outcomes page sums those instead of reading the day's actions (followups.outcomes)."""

    time_zone = models.CharField(max_length=64)
    day = models.DateField()
    summarized_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["time_zone", "day"], name="outcome_day_unique")
        ]

    def __str__(self) -> str:
        return f"{self.day} ({self.time_zone})"


class OutcomeCount(models.Model):
    """How many actions of one day ended one way: sends (status executed) by type, delay
    asked, lateness and the client's hour, with how many were answered within 24 h; missed
    and failed by type. −1 in delay/late/hour: the row is summed over it (a send is counted
    once with hour −1, for the per-day, delay and lateness charts, and once with its hour)."""

    time_zone = models.CharField(max_length=64)
    day = models.DateField()
    # Whose clients (a manager's outcomes count only their accounts'); the summary outlives
    # the clients, so an account with summarized days is not deleted with them.
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16)
    action_type = models.CharField(max_length=32)
    delay = models.SmallIntegerField()  # index in followups.outcomes.DELAY_BUCKETS
    late = models.SmallIntegerField()  # index in followups.outcomes.LATENESS_BUCKETS
    hour = models.SmallIntegerField()  # the client's local hour of the send
    actions = models.IntegerField()
    answers = models.IntegerField()  # sends answered within 24 h

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "time_zone",
                    "day",
                    "account",
                    "status",
                    "action_type",
                    "delay",
                    "late",
                    "hour",
                ],
                name="outcome_count_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.status} {self.action_type}: {self.actions}"
