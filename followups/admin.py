"""Staff's view of every scheduled action: see, cancel, reschedule, send now.

Rows are never edited field by field here: every change goes through `followups.services`,
so the admin obeys the same compare-and-set rules as the workers. Three roles (see roles.py):
viewers see and change nothing; operators may also act; the head of sales acts on every
account, the others only on their accounts' clients (followups.access).
"""

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models.constants import LOOKUP_SEP
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from followups import access, accounts, services, texts
from followups.cleaning import clean_text
from followups.models import (
    Account,
    ActionStatus,
    ActionType,
    Meeting,
    Message,
    OptOutChange,
    Prospect,
    ScheduledAction,
)
from followups.services import SchedulingError
from followups.texts import render_text

UTC = ZoneInfo("UTC")


def _local(value: datetime | None, zone: ZoneInfo) -> str:
    if value is None:
        return "—"
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _utc(value: datetime | None) -> str:
    return "—" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def human_time(value: datetime, zone: ZoneInfo) -> str:
    """ "12 Dec 2026 09:00 (Asia/Makassar)": a time as a person reads it, with its zone."""
    local = value.astimezone(zone)
    return f"{local.day} {local:%b %Y %H:%M} ({zone.key})"


def client_and_utc(value: datetime, zone: ZoneInfo) -> str:
    """ "12 Dec 2026 09:00 (Asia/Makassar), 01:00 UTC"."""
    return f"{human_time(value, zone)}, {value.astimezone(UTC):%H:%M} UTC"


def zoned_time(field: str, description: str):
    """A column or detail field for a datetime: in the client's zone, and in UTC."""

    @admin.display(description=description, ordering=field)
    def show(self, obj):
        value = getattr(obj, field)
        zone = getattr(obj, "prospect", obj).zone  # a prospect, or a row of one
        return "—" if value is None else client_and_utc(value, zone)

    return show


def json_block(value) -> str:
    """Stored JSON shown readable in the admin: indented, non-ASCII kept, HTML-escaped."""
    return format_html("<pre>{}</pre>", json.dumps(value, ensure_ascii=False, indent=2))


def human_delta(delta: timedelta) -> str:
    """ "2 days 3 h 5 min": how far off a time is, to the nearest minute."""
    minutes = round(delta.total_seconds() / 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days} day{'s' * (days != 1)}"] if days else []
    parts += [f"{hours} h"] if hours else []
    return " ".join([*parts, f"{minutes} min"] if minutes or not parts else parts)


def check_when(when: datetime) -> None:
    """services.validate_when, its refusal said as a person would, in the zone `when` was
    entered in (a SchedulingError, like the service's)."""
    try:
        services.validate_when(when)
    except SchedulingError:
        zone, now = when.tzinfo, timezone.now()
        if when < now:
            raise SchedulingError(
                f"{human_time(when, zone)} is in the past: it is now {human_time(now, zone)} there"
            ) from None
        days = settings.FOLLOWUPS_MAX_AHEAD_DAYS
        latest = human_time(now + timedelta(days=days), zone)
        raise SchedulingError(
            f"{human_time(when, zone)} is more than {days} days ahead: the latest is {latest}"
        ) from None


def _time_columns(field: str, label: str):
    """Two list columns for a datetime field: in the client's zone, and in UTC."""

    @admin.display(description=f"{label} (client's time)", ordering=field)
    def client_time(self, obj):
        return _local(getattr(obj, field), obj.prospect.zone)

    @admin.display(description=f"{label} (UTC)", ordering=field)
    def utc(self, obj):
        return _utc(getattr(obj, field))

    return client_time, utc


class ShownFieldLookupsOnly:
    """Only what staff are shown can be filtered through the URL. Django's admin lets any
    `?field__lookup=value` on the model's own fields through, so a hidden field could be read
    back by bisection (`?access_hash__gt=…`); here the first field of a lookup must be in the
    list, the detail page, a list filter or the date hierarchy."""

    def lookup_allowed(self, lookup, value, request):
        shown = {
            *self.get_list_display(request),
            *flatten_fieldsets(self.get_fieldsets(request)),
            *(f[0] if isinstance(f, tuple) else f for f in self.get_list_filter(request)),
            self.date_hierarchy,
        }
        return lookup.split(LOOKUP_SEP)[0] in shown and super().lookup_allowed(
            lookup, value, request
        )


class ScopedToAccounts:
    """Only the rows of the Telegram accounts the user sees (followups.access): lists, bulk
    actions (Django's admin selects through get_queryset, so a forged id is dropped) and object
    pages (another account's object is a 404). A manager linked to no account is told so."""

    account_path = "prospect__account"  # from the model to its Account

    def get_queryset(self, request):
        return access.scope(super().get_queryset(request), request.user, self.account_path)

    def changelist_view(self, request, extra_context=None):
        if access.sees_none(request.user):
            self.message_user(request, access.NO_ACCOUNT, messages.WARNING)
        return super().changelist_view(request, extra_context)

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        """Django's change, history and delete pages redirect to the index, saying "doesn't
        exist", for an object get_queryset does not have: here it is a plain 404, the same for
        another account's object as for one that never existed."""
        raise Http404(f"No such {opts.verbose_name}.")


class AccountScoped(ScopedToAccounts):
    """A client's rows: also the prospect choices of a form, and an account column and filter
    for those who see more than one account."""

    account_column = "account_of"

    @admin.display(description="account", ordering="prospect__account__name")
    def account_of(self, obj) -> Account:
        return obj.prospect.account

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Prospect:
            kwargs["queryset"] = access.scope(Prospect.objects.all(), request.user, "account")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_list_display(self, request):
        shown = super().get_list_display(request)
        return (*shown, self.account_column) if access.sees_many(request.user) else shown

    def get_list_filter(self, request):
        filters = super().get_list_filter(request)
        if not access.sees_many(request.user):
            return filters
        return (*filters, (self.account_path, admin.RelatedOnlyFieldListFilter))


ZONES = (("client", "the client's time zone"), ("UTC", "UTC"))


def read_in(value: datetime, choice: str, client_zone: ZoneInfo) -> datetime:
    """The wall-clock time a form read, as meant in the chosen zone (one of ZONES)."""
    zone = client_zone if choice == "client" else UTC
    return timezone.make_naive(value).replace(tzinfo=zone)


class RescheduleForm(forms.Form):
    new_time = forms.DateTimeField(
        label="New time",
        help_text="YYYY-MM-DD HH:MM",
        input_formats=["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"],
    )
    zone = forms.ChoiceField(choices=ZONES, initial="client", label="Read the time in")

    def when_for(self, action: ScheduledAction) -> datetime:
        """The entered wall-clock time as an aware datetime, in the chosen zone."""
        return read_in(
            self.cleaned_data["new_time"], self.cleaned_data["zone"], action.prospect.zone
        )


class RecordTimes:
    """When a row was created and last changed, each with its zone."""

    created = zoned_time("created_at", "created")
    updated = zoned_time("updated_at", "updated")


class SaveOnlyWhatCanBeSaved:
    """No SAVE buttons on a page where every field is read-only (viewers see none anyway)."""

    def render_change_form(self, request, context, add=False, change=False, **kwargs):
        if not context["adminform"].form.fields:
            context.update(
                show_save=False, show_save_and_continue=False, show_save_and_add_another=False
            )
        return super().render_change_form(request, context, add, change, **kwargs)


class ReadOnly:
    """A record staff only read: nobody adds, changes or deletes it here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(ReadOnly, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True


@admin.display(description="error / reason")
def error_or_reason(obj: ScheduledAction) -> str:
    text = texts.readable_reason(obj.cancel_reason) if obj.cancel_reason else obj.last_error
    return text[:80] + ("…" if len(text) > 80 else "")


class ActionInline(ReadOnlyInline):
    model = ScheduledAction
    fk_name = "prospect"
    fields = ("action_type", "status", "due_client_time", "due_utc", "attempts", error_or_reason)
    readonly_fields = fields
    ordering = ("-scheduled_for",)
    due_client_time, due_utc = _time_columns("scheduled_for", "due")


class ReminderInline(ActionInline):
    fk_name = "meeting"
    verbose_name = "reminder"
    verbose_name_plural = "reminders"


class MeetingInline(ReadOnlyInline):
    model = Meeting
    fields = ("starts", "status", "title")
    readonly_fields = fields
    starts = zoned_time("starts_at", "starts")


@admin.register(ScheduledAction)
class ScheduledActionAdmin(
    AccountScoped, ShownFieldLookupsOnly, SaveOnlyWhatCanBeSaved, RecordTimes, admin.ModelAdmin
):
    list_display = (
        "short_id",
        "prospect_link",
        "action_type",
        "due_client_time",
        "due_utc",
        "status",
        "attempts",
        error_or_reason,
    )
    list_filter = ("status", "action_type", ("scheduled_for", admin.DateFieldListFilter))
    search_fields = (
        "prospect__display_name",
        "prospect__username",
        "=prospect__telegram_id",
        "=id",
    )
    list_select_related = ("prospect__account",)
    date_hierarchy = "scheduled_for"
    ordering = ("scheduled_for",)
    actions = ("cancel_selected", "send_selected_now", "reschedule_selected")
    list_per_page = 100
    fields = (
        "id",
        "prospect",
        "meeting",
        "action_type",
        "status",
        "due_client_time",
        "due_utc",
        "client_requested_time",
        "text",
        "payload_pretty",
        "attempts",
        "last_error",
        "telegram_message_id",
        "created",
        "promised",
        "sent_now",
        "updated",
        "enqueued",
        "claimed",
        "executed",
        "cancelled",
        "reason",
    )
    readonly_fields = fields
    promised = zoned_time("promised_at", "promised")
    enqueued = zoned_time("enqueued_at", "enqueued")
    claimed = zoned_time("claimed_at", "claimed")
    executed = zoned_time("executed_at", "executed")
    cancelled = zoned_time("cancelled_at", "cancelled")

    def has_add_permission(self, request):
        return False  # actions come from conversations and bookings, through the services

    def has_delete_permission(self, request, obj=None):
        return False  # the row is the record; cancel it instead, cleanup deletes old rows

    @admin.display(description="id")
    def short_id(self, obj):
        return str(obj.pk)[:8]

    @admin.display(description="prospect", ordering="prospect__display_name")
    def prospect_link(self, obj):
        url = reverse("admin:followups_prospect_change", args=[obj.prospect_id])
        return format_html('<a href="{}">{}</a>', url, obj.prospect)

    due_client_time, due_utc = _time_columns("scheduled_for", "due")

    @admin.display(description="sent now")
    def sent_now(self, obj):
        """A "send now" keeps the time the client was promised, said beside the new one."""
        if not obj.sent_now_by:
            return "—"
        zone = obj.prospect.zone
        queued = f"sent now by {obj.sent_now_by}, due {client_and_utc(obj.scheduled_for, zone)}"
        if obj.promised_for is None:
            return queued
        return f"promised for {client_and_utc(obj.promised_for, zone)}; {queued} (early)"

    @admin.display(description="cancel reason")
    def reason(self, obj):
        return texts.readable_reason(obj.cancel_reason) if obj.cancel_reason else "—"

    @admin.display(description="text")
    def text(self, obj):
        """What was sent, or what will be."""
        sent = obj.send_text or (
            Message.objects.filter(action=obj, direction=Message.Direction.OUTBOUND)
            .values_list("text", flat=True)
            .first()
        )
        if sent:
            return format_html("<pre>{}</pre>", sent)
        if obj.status != ActionStatus.PENDING:
            return "— (nothing was sent)"
        template = (obj.payload.get("message_template") or "").strip()
        if obj.action_type == ActionType.FOLLOW_UP and not template:
            return "Preview: none yet; the text will be written at send time."
        return format_html("Preview (if it were sent now):<pre>{}</pre>", render_text(obj))

    @admin.display(description="payload")
    def payload_pretty(self, obj):
        return json_block(obj.payload)

    # --- actions -----------------------------------------------------------------------------

    def _report(self, request, done: int, total: int, verb: str) -> None:
        self.message_user(request, f"{verb} {done} of {total} selected.", messages.SUCCESS)
        if done < total:
            self.message_user(
                request,
                f"{total - done} were no longer pending (already sent, being sent, or "
                "cancelled) and were left as they are.",
                messages.WARNING,
            )

    @staticmethod
    def _staff_reason(request) -> str:
        return f"cancelled by staff ({request.user.get_username()})"

    @staticmethod
    def _selected(view_name: str, ids) -> HttpResponseRedirect:
        url = reverse(f"admin:followups_scheduledaction_{view_name}")
        return HttpResponseRedirect(f"{url}?ids={','.join(str(pk) for pk in ids)}")

    @admin.action(description="Cancel selected pending actions", permissions=["change"])
    def cancel_selected(self, request, queryset):
        reason = self._staff_reason(request)
        done = sum(services.cancel_action(a, reason) for a in queryset)
        self._report(request, done, queryset.count(), "Cancelled")

    @admin.action(description="Send selected now…", permissions=["change"])
    def send_selected_now(self, request, queryset):
        return self._selected("send_now_many", queryset.values_list("pk", flat=True))

    @admin.action(description="Reschedule selected…", permissions=["change"])
    def reschedule_selected(self, request, queryset):
        return self._selected("reschedule", queryset.values_list("pk", flat=True))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "reschedule/",
                view(self.reschedule_view),
                name="followups_scheduledaction_reschedule",
            ),
            path(
                "send-now/",
                view(self.send_now_many_view),
                name="followups_scheduledaction_send_now_many",
            ),
            path(
                "<path:object_id>/cancel/",
                view(self.cancel_view),
                name="followups_scheduledaction_cancel",
            ),
            path(
                "<path:object_id>/send-now/",
                view(self.send_now_view),
                name="followups_scheduledaction_send_now",
            ),
            *super().get_urls(),
        ]

    # --- the buttons on an action's own page ---------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        action = self.get_object(request, object_id)
        can_act = (
            action is not None
            and action.status == ActionStatus.PENDING
            and self.has_change_permission(request, action)
        )
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), "can_act": can_act}
        )

    def _action_to_change(self, request, object_id) -> ScheduledAction:
        action = self.get_object(request, object_id)
        if action is None:
            raise Http404("No such action.")
        if not self.has_change_permission(request, action):
            raise PermissionDenied
        return action

    def _back_to(self, request, action: ScheduledAction, done: bool, verb: str):
        if done:
            self.message_user(request, f"{verb}.", messages.SUCCESS)
        else:
            self.message_user(
                request,
                "This action was no longer pending (already sent, being sent, or cancelled) "
                "and was left as it is.",
                messages.WARNING,
            )
        return HttpResponseRedirect(
            reverse("admin:followups_scheduledaction_change", args=[action.pk])
        )

    def cancel_view(self, request: HttpRequest, object_id: str):
        """GET asks first (unless there is nothing left to cancel); POST cancels."""
        action = self._action_to_change(request, object_id)
        if request.method == "POST":
            done = services.cancel_action(action, self._staff_reason(request))
            return self._back_to(request, action, done, "Cancelled")
        if action.status != ActionStatus.PENDING:
            return self._back_to(request, action, False, "Cancelled")
        context = {
            **self.admin_site.each_context(request),
            "title": "Cancel this action?",
            "opts": self.model._meta,
            "action": action,
            "obj": action,
            "due": human_time(action.scheduled_for, action.prospect.zone),
        }
        return TemplateResponse(request, "admin/followups/scheduledaction/cancel.html", context)

    def send_now_view(self, request: HttpRequest, object_id: str):
        """GET asks first, saying the time promised and what sending early would break; POST
        sends."""
        action = self._action_to_change(request, object_id)
        if request.method == "POST":
            done = services.send_now(action, self._staff(request))
            return self._back_to(request, action, done, "Queued to send now")
        if action.status != ActionStatus.PENDING:
            return self._back_to(request, action, False, "Queued to send now")
        return self._confirm_send_now(request, [action])

    def send_now_many_view(self, request: HttpRequest):
        """The bulk "send now": the same question for every selected action, then POST."""
        actions, changelist = self._selection(request, "send")
        if not actions:
            return HttpResponseRedirect(changelist)
        if request.method == "POST":
            by = self._staff(request)
            done = sum(services.send_now(a, by) for a in actions)
            self._report(request, done, len(actions), "Queued to send now")
            return HttpResponseRedirect(changelist)
        return self._confirm_send_now(request, actions)

    @staticmethod
    def _staff(request) -> str:
        return f"staff ({request.user.get_username()})"

    def _confirm_send_now(self, request, actions: list[ScheduledAction]):
        now = timezone.now()
        rows = [
            {
                "action": a,
                "due": client_and_utc(a.scheduled_for, a.prospect.zone),
                "early": a.scheduled_for > now + services.PAST_TOLERANCE
                and human_delta(a.scheduled_for - now),
                "warnings": services.early_send_warnings(a, now),
            }
            for a in actions
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Send now?",
            "opts": self.model._meta,
            "rows": rows,
            "warned": any(row["warnings"] for row in rows),
            "ids": ",".join(str(a.pk) for a in actions),
            "pending": ActionStatus.PENDING,
            "obj": actions[0] if len(actions) == 1 else None,
        }
        return TemplateResponse(request, "admin/followups/scheduledaction/send_now.html", context)

    def _selection(self, request, verb: str) -> tuple[list[ScheduledAction], str]:
        """A bulk view's start: the user may change, the selected actions and the changelist's
        URL; with none selected, the user is told so (and the view redirects there)."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        actions = self._actions_in(request)
        if not actions:
            self.message_user(request, f"No actions selected to {verb}.", messages.ERROR)
        return actions, reverse("admin:followups_scheduledaction_changelist")

    def _actions_in(self, request) -> list[ScheduledAction]:
        """The actions named by `ids` (comma-separated, GET or POST); unknown ids, and those of
        accounts the user does not see, are dropped."""
        raw_ids = (request.POST.get("ids") or request.GET.get("ids") or "").split(",")
        try:
            return list(
                self.get_queryset(request)
                .filter(pk__in=[i for i in raw_ids if i])
                .select_related("prospect")
            )
        except ValidationError:
            return []

    def reschedule_view(self, request: HttpRequest):
        actions, changelist = self._selection(request, "reschedule")
        if not actions:
            return HttpResponseRedirect(changelist)
        form = RescheduleForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                for action in actions:  # each client's zone: all valid, or none moved
                    check_when(form.when_for(action))
                done = sum(services.reschedule(a, form.when_for(a)) for a in actions)
            except SchedulingError as exc:
                form.add_error("new_time", str(exc))
            else:
                self._report(request, done, len(actions), "Rescheduled")
                return HttpResponseRedirect(changelist)
        context = {
            **self.admin_site.each_context(request),
            "title": "Reschedule actions",
            "opts": self.model._meta,
            "form": form,
            "actions_to_move": [
                (a, client_and_utc(a.scheduled_for, a.prospect.zone)) for a in actions
            ],
            "ids": ",".join(str(a.pk) for a in actions),
            "pending": ActionStatus.PENDING,
        }
        return TemplateResponse(request, "admin/followups/scheduledaction/reschedule.html", context)


class MeetingForm(forms.ModelForm):
    """The time is read and shown in the client's zone (or UTC, if chosen). Whatever booking or
    moving would refuse is refused here, as a form error: save_model runs after validation,
    where a refusal could only be a server error."""

    zone = forms.ChoiceField(choices=ZONES, initial="client", label="Read the time in")
    link = forms.URLField(  # the model's validators still refuse what is not http(s)
        required=False,
        max_length=Meeting._meta.get_field("link").max_length,
        assume_scheme="https",
        help_text="A video call's link (http or https): the reminders carry it.",
    )

    class Meta:
        model = Meeting
        fields = ("prospect", "starts_at", "title", "link", "place")
        help_texts = {
            "starts_at": "In the client's time zone unless UTC is chosen below.",
            "place": "Or where to meet: the reminders say it.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.moved = self.instance.pk is None
        if not self.moved and "starts_at" in self.fields:  # shown as the client reads it
            zone = self.instance.prospect.zone
            self.initial["starts_at"] = timezone.make_naive(self.instance.starts_at, zone)
            help_text = (
                f"Shown in the client's time zone, {zone.key}; read in the zone chosen below."
            )
            self.fields["starts_at"].help_text = help_text

    def clean(self):
        cleaned = super().clean()
        prospect = cleaned.get("prospect") if self.instance.pk is None else self.instance.prospect
        if None in (prospect, cleaned.get("starts_at"), cleaned.get("zone")):
            return cleaned  # a field's own error says why
        starts_at = read_in(cleaned["starts_at"], cleaned["zone"], prospect.zone)
        shown = self.instance.starts_at and self.instance.starts_at.replace(microsecond=0)
        self.moved = self.instance.pk is None or starts_at != shown  # the form has no µs
        if not self.moved:  # a past or cancelled meeting may still be renamed
            cleaned["starts_at"] = self.instance.starts_at
            return cleaned
        try:
            if self.instance.status == Meeting.Status.CANCELLED:
                raise SchedulingError("This meeting is cancelled: book a new one instead.")
            check_when(starts_at)
        except SchedulingError as exc:
            self.add_error("starts_at", str(exc))
        else:
            cleaned["starts_at"] = starts_at.astimezone(UTC)
        return cleaned


@admin.register(Meeting)
class MeetingAdmin(
    AccountScoped, ShownFieldLookupsOnly, SaveOnlyWhatCanBeSaved, RecordTimes, admin.ModelAdmin
):
    form = MeetingForm
    list_display = ("id", "prospect", "starts_client_time", "starts_utc", "status", "title")
    list_filter = ("status", ("starts_at", admin.DateFieldListFilter))
    search_fields = ("prospect__display_name", "prospect__username", "=prospect__telegram_id")
    list_select_related = ("prospect__account",)
    fields = (
        "prospect", "starts_at", "zone", "title", "link", "place", "status", "created", "updated"
    )  # fmt: skip
    readonly_fields = ("status", "created", "updated")
    starts = zoned_time("starts_at", "starts")

    def get_fields(self, request, obj=None):
        if obj is not None and not self.has_change_permission(request, obj):  # a viewer's page
            return ("prospect", "starts", "status", "title", "link", "place", "created", "updated")
        return self.fields

    inlines = (ReminderInline,)
    actions = ("cancel_selected",)

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:  # a booked meeting stays with its client
            return (*self.readonly_fields, "prospect")
        return self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False  # cancel instead: that also cancels its reminders

    starts_client_time, starts_utc = _time_columns("starts_at", "starts")

    def save_model(self, request, obj, form, change):
        """Booking and moving go through the services, so the reminders follow."""
        details = {"title": obj.title, "link": obj.link, "place": obj.place}
        if not change:
            obj.pk = services.book_meeting(obj.prospect, obj.starts_at, **details).pk
        else:
            if form.moved:
                services.move_meeting(Meeting.objects.get(pk=obj.pk), obj.starts_at)
            Meeting.objects.filter(pk=obj.pk).update(**services.meeting_details(**details))
        if form.moved:
            when = client_and_utc(obj.starts_at, obj.prospect.zone)
            self.message_user(request, f"The meeting is at {when}.", messages.SUCCESS)

    @admin.action(
        description="Cancel selected meetings and their reminders", permissions=["change"]
    )
    def cancel_selected(self, request, queryset):
        meetings = list(queryset.exclude(status=Meeting.Status.CANCELLED))
        for meeting in meetings:
            services.cancel_meeting(meeting)
        self.message_user(request, f"Cancelled {len(meetings)} meetings.", messages.SUCCESS)


class OptOutChangeInline(ReadOnlyInline):
    model = OptOutChange
    verbose_name = "opt-out change"
    verbose_name_plural = "opt-out history"
    fields = ("kind", "when", "by", "words")
    readonly_fields = fields
    show_change_link = False
    when = zoned_time("at", "when")


class LiftOptOutForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=services.LIFT_WORDS_LIMIT,
        help_text="Required, and kept with the prospect: e.g. «the client phoned and asked us "
        "to write on Monday».",
    )

    def clean_reason(self):
        reason = clean_text(self.cleaned_data["reason"]).strip()
        if not reason:
            raise ValidationError("Say why the opt-out is lifted.")
        return reason


# The prospect page shows this many of the latest messages; the rest are a link away.
CONVERSATION_SHOWN = 50


def conversation(prospect: Prospect, limit: int = CONVERSATION_SHOWN) -> dict:
    """The latest messages, oldest first (like a chat), each with what it was: the client's,
    the agent's reply, or a scheduled send (with its action). Two queries, whatever the length."""
    latest = (
        Message.objects.filter(prospect=prospect)
        .select_related("action")
        .order_by("-sent_at", "-pk")[:limit]
    )
    rows = []
    for message in reversed(latest):
        if message.direction == Message.Direction.INBOUND:
            kind = "client"
        elif message.action is not None:
            kind = message.action.get_action_type_display()
        else:
            kind = "agent reply"
        rows.append(
            {"message": message, "kind": kind, "at": client_and_utc(message.sent_at, prospect.zone)}
        )
    total = len(rows) if len(rows) < limit else prospect.messages.count()
    all_url = reverse("admin:followups_message_changelist") + f"?prospect__id__exact={prospect.pk}"
    return {"messages": rows, "total": total, "all_url": all_url}


@admin.register(Message)
class MessageAdmin(AccountScoped, ShownFieldLookupsOnly, ReadOnly, admin.ModelAdmin):
    """The whole conversation log, read-only: what each client wrote and what they were sent."""

    list_display = ("sent", "prospect", "kind", "short_text", "action_link")
    list_filter = ("direction",)
    search_fields = ("prospect__display_name", "prospect__username", "=prospect__telegram_id")
    list_select_related = ("prospect__account", "action")
    ordering = ("-sent_at", "-pk")
    list_per_page = 100
    fields = ("sent", "prospect", "kind", "text", "action_link", "telegram_message_id")
    readonly_fields = fields
    sent = zoned_time("sent_at", "sent")

    @admin.display(description="what")
    def kind(self, obj):
        if obj.direction == Message.Direction.INBOUND:
            return "client"
        return obj.action.get_action_type_display() if obj.action else "agent reply"

    @admin.display(description="text")
    def short_text(self, obj):
        return obj.text[:200] + ("…" if len(obj.text) > 200 else "")

    @admin.display(description="scheduled action")
    def action_link(self, obj):
        if obj.action_id is None:
            return "—"
        url = reverse("admin:followups_scheduledaction_change", args=[obj.action_id])
        return format_html('<a href="{}">{}</a>', url, str(obj.action_id)[:8])


@admin.register(Prospect)
class ProspectAdmin(
    AccountScoped, ShownFieldLookupsOnly, SaveOnlyWhatCanBeSaved, RecordTimes, admin.ModelAdmin
):
    account_path = "account"
    account_column = "account"
    list_select_related = ("account",)
    ordering = ("-pk",)  # the list's own default, now also the prospect lookups' (paginated)
    list_display = (
        "telegram_id",
        "display_name",
        "username",
        "time_zone",
        "language",
        "opted_out",
        "unreachable",
        "last_inbound",
        "last_outbound",
    )
    list_filter = ("language", "time_zone")
    search_fields = ("display_name", "username", "=telegram_id")
    # access_hash is left out on purpose: staff have no use for it.
    fields = (
        "account",
        "telegram_id",
        "display_name",
        "username",
        "time_zone",
        "language",
        "opted_out",
        "unreachable",
        "unreachable_reason",
        "last_inbound",
        "last_reply",
        "last_outbound",
        "created",
        "updated",
    )
    # Staff may correct a name, a time zone or a language; the rest comes from Telegram.
    readonly_fields = tuple(f for f in fields if f not in ("display_name", "time_zone", "language"))
    inlines = (ActionInline, MeetingInline, OptOutChangeInline)
    actions = ("opt_out_selected",)
    opted_out = zoned_time("opted_out_at", "opted out")
    unreachable = zoned_time("unreachable_since", "unreachable since")
    last_inbound = zoned_time("last_inbound_at", "last inbound")
    last_reply = zoned_time("last_reply_at", "last reply")
    last_outbound = zoned_time("last_outbound_at", "last outbound")

    def has_add_permission(self, request):
        return False  # prospects come from Telegram

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(
        description="Opt out: cancel everything, never write first", permissions=["change"]
    )
    def opt_out_selected(self, request, queryset):
        by = f"staff ({request.user.get_username()})"
        cancelled = sum(
            services.opt_out(p, by=by) for p in queryset.filter(opted_out_at__isnull=True)
        )
        self.message_user(
            request, f"Opted out; {cancelled} pending actions cancelled.", messages.SUCCESS
        )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/lift-opt-out/",
                self.admin_site.admin_view(self.lift_opt_out_view),
                name="followups_prospect_lift_opt_out",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        prospect = self.get_object(request, object_id)
        extra = {}
        if prospect is not None:
            extra = {
                "conversation": conversation(prospect),
                "can_lift": prospect.opted_out_at is not None
                and self.has_change_permission(request, prospect),
            }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def lift_opt_out_view(self, request: HttpRequest, object_id: str):
        """GET asks for the reason; POST lifts the opt-out with it (required, recorded)."""
        prospect = self.get_object(request, object_id)
        if prospect is None:
            raise Http404("No such prospect.")
        if not self.has_change_permission(request, prospect):
            raise PermissionDenied
        back = HttpResponseRedirect(reverse("admin:followups_prospect_change", args=[prospect.pk]))
        if prospect.opted_out_at is None:
            self.message_user(request, "This prospect is not opted out.", messages.WARNING)
            return back
        form = LiftOptOutForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            by = f"staff ({request.user.get_username()})"
            if services.lift_opt_out(prospect, by=by, words=form.cleaned_data["reason"]):
                self.message_user(request, "Opt-out lifted.", messages.SUCCESS)
            else:
                self.message_user(request, "This prospect is not opted out.", messages.WARNING)
            return back
        context = {
            **self.admin_site.each_context(request),
            "title": "Lift the opt-out?",
            "opts": self.model._meta,
            "prospect": prospect,
            "obj": prospect,
            "opted_out": client_and_utc(prospect.opted_out_at, prospect.zone),
            "form": form,
        }
        return TemplateResponse(request, "admin/followups/prospect/lift_opt_out.html", context)


class AccountForm(forms.ModelForm):
    class Meta:
        model = Account
        fields = ("staff",)  # the session is never a form field (nor shown anywhere)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "staff" in self.fields:
            self.fields["staff"].queryset = self.fields["staff"].queryset.filter(is_staff=True)
            self.fields["staff"].help_text = (
                "The managers who see and act on this account's clients. The head of sales "
                "sees every account without being listed."
            )


@admin.register(Account)
class AccountAdmin(
    ScopedToAccounts, ShownFieldLookupsOnly, SaveOnlyWhatCanBeSaved, admin.ModelAdmin
):
    """The Telegram accounts: the head of sales links staff to them; a manager reads their own.
    The account's session is never shown: not a field here, nor a column, nor a filter."""

    form = AccountForm
    account_path = ""
    list_display = (
        "name", "state", "telegram", "send_rate_per_minute", "quiet_hours",
        "default_time_zone", "staff_names",
    )  # fmt: skip
    list_filter = ("state",)
    search_fields = ("name", "telegram_username")
    fields = (
        "name", "state", "state_reason", "telegram", "send_rate_per_minute", "quiet_hours",
        "default_time_zone", "staff", "created_at", "updated_at",
    )  # fmt: skip
    readonly_fields = tuple(f for f in fields if f != "staff")
    filter_horizontal = ("staff",)

    actions = ("pause_selected", "reactivate_selected")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("staff")

    def has_add_permission(self, request):
        return False  # an account is made where it logs in to Telegram, not here

    def has_operate_permission(self, request, obj=None) -> bool:
        """Pausing and reactivating an account is acting on its actions: the operators' right
        (and the head of sales'), on the accounts they see (get_queryset)."""
        return request.user.has_perm("followups.change_scheduledaction")

    # --- pause and reactivate ------------------------------------------------------------------

    @admin.action(description="Pause selected accounts (their sends wait)", permissions=["operate"])
    def pause_selected(self, request, queryset):
        for account in queryset:
            self._change_state(request, account, "pause")

    @admin.action(description="Reactivate selected paused accounts", permissions=["operate"])
    def reactivate_selected(self, request, queryset):
        for account in queryset:
            self._change_state(request, account, "reactivate")

    def _change_state(self, request, account: Account, to: str) -> None:
        who = request.user.get_username()
        if to == "pause":
            if accounts.pause(account, who):
                self.message_user(
                    request,
                    f"Paused account {account}: its due actions wait (neither failed nor "
                    "missed) until it is reactivated.",
                    messages.SUCCESS,
                )
            else:
                self.message_user(request, f"Account {account} was already paused.", messages.INFO)
            return
        try:
            done = accounts.reactivate(account, who)
        except accounts.StateRefused as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        if done:
            self.message_user(
                request,
                f"Reactivated account {account}: its waiting actions go out within a minute.",
                messages.SUCCESS,
            )
        else:
            self.message_user(request, f"Account {account} was already active.", messages.INFO)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            *(
                path(
                    f"<path:object_id>/{to}/",
                    view(self.state_view),
                    {"to": to},
                    name=f"followups_account_{to}",
                )
                for to in ("pause", "reactivate")
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        account = self.get_object(request, object_id)
        can_operate = account is not None and self.has_operate_permission(request, account)
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), "can_operate": can_operate}
        )

    def state_view(self, request: HttpRequest, object_id: str, to: str):
        """GET asks first, saying what pausing or reactivating does; POST does it."""
        account = self.get_object(request, object_id)
        if account is None:
            raise Http404("No such account.")
        if not self.has_operate_permission(request, account):
            raise PermissionDenied
        if request.method == "POST":
            self._change_state(request, account, to)
            return HttpResponseRedirect(
                reverse("admin:followups_account_change", args=[account.pk])
            )
        context = {
            **self.admin_site.each_context(request),
            "title": f"{to.capitalize()} account {account}?",
            "opts": self.model._meta,
            "obj": account,
            "account": account,
            "to": to,
            "waiting": ScheduledAction.objects.filter(
                prospect__account=account, status=ActionStatus.PENDING
            ).count(),
        }
        return TemplateResponse(request, "admin/followups/account/state.html", context)

    def has_delete_permission(self, request, obj=None):
        return False  # its clients' history hangs on it

    @admin.display(description="Telegram user")
    def telegram(self, obj):
        name = f"@{obj.telegram_username}" if obj.telegram_username else ""
        number = str(obj.telegram_user_id) if obj.telegram_user_id is not None else ""
        return " ".join(filter(None, [name, number and f"({number})"])) or "— (not logged in)"

    @admin.display(description="staff")
    def staff_names(self, obj):
        return ", ".join(sorted(u.get_username() for u in obj.staff.all())) or "—"
