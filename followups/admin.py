"""Staff's view of every scheduled action: see, cancel, reschedule, send now.

Rows are never edited field by field here: every change goes through `followups.services`,
so the admin obeys the same compare-and-set rules as the workers. Two roles (see roles.py):
viewers see everything and change nothing; operators may also act.
"""

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from followups import services
from followups.models import ActionStatus, Meeting, Prospect, ScheduledAction
from followups.services import SchedulingError


def _local(value: datetime | None, zone: ZoneInfo) -> str:
    if value is None:
        return "—"
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _utc(value: datetime | None) -> str:
    return "—" if value is None else value.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M")


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


class RescheduleForm(forms.Form):
    ZONES = (("client", "the client's time zone"), ("UTC", "UTC"))

    new_time = forms.DateTimeField(
        label="New time",
        help_text="YYYY-MM-DD HH:MM",
        input_formats=["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"],
    )
    zone = forms.ChoiceField(choices=ZONES, initial="client", label="Read the time in")

    def when_for(self, action: ScheduledAction) -> datetime:
        """The entered wall-clock time as an aware datetime, in the chosen zone."""
        naive = timezone.make_naive(self.cleaned_data["new_time"])
        zone = action.prospect.zone if self.cleaned_data["zone"] == "client" else ZoneInfo("UTC")
        return naive.replace(tzinfo=zone)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ActionInline(ReadOnlyInline):
    model = ScheduledAction
    fk_name = "prospect"
    fields = ("action_type", "status", "due_client_time", "due_utc", "attempts", "cancel_reason")
    readonly_fields = fields
    ordering = ("-scheduled_for",)
    due_client_time, due_utc = _time_columns("scheduled_for", "due")


class ReminderInline(ActionInline):
    fk_name = "meeting"
    verbose_name = "reminder"
    verbose_name_plural = "reminders"


class MeetingInline(ReadOnlyInline):
    model = Meeting
    fields = ("starts_at", "status", "title")
    readonly_fields = fields


@admin.register(ScheduledAction)
class ScheduledActionAdmin(ShownFieldLookupsOnly, admin.ModelAdmin):
    list_display = (
        "short_id",
        "prospect_link",
        "action_type",
        "due_client_time",
        "due_utc",
        "status",
        "attempts",
        "error_or_reason",
    )
    list_filter = ("status", "action_type", ("scheduled_for", admin.DateFieldListFilter))
    search_fields = (
        "prospect__display_name",
        "prospect__username",
        "=prospect__telegram_id",
        "=id",
    )
    list_select_related = ("prospect",)
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
        "payload_pretty",
        "attempts",
        "last_error",
        "telegram_message_id",
        "created_at",
        "promised_at",
        "updated_at",
        "enqueued_at",
        "claimed_at",
        "executed_at",
        "cancelled_at",
        "cancel_reason",
    )
    readonly_fields = fields

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

    @admin.display(description="error / reason")
    def error_or_reason(self, obj):
        text = obj.cancel_reason or obj.last_error
        return text[:80] + ("…" if len(text) > 80 else "")

    @admin.display(description="payload")
    def payload_pretty(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, ensure_ascii=False, indent=2))

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

    @admin.action(description="Cancel selected pending actions", permissions=["change"])
    def cancel_selected(self, request, queryset):
        reason = f"cancelled by staff ({request.user.get_username()})"
        done = sum(services.cancel_action(a, reason) for a in queryset)
        self._report(request, done, queryset.count(), "Cancelled")

    @admin.action(description="Send selected now", permissions=["change"])
    def send_selected_now(self, request, queryset):
        done = sum(services.send_now(a) for a in queryset.select_related("prospect"))
        self._report(request, done, queryset.count(), "Queued to send now")

    @admin.action(description="Reschedule selected…", permissions=["change"])
    def reschedule_selected(self, request, queryset):
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True))
        url = reverse("admin:followups_scheduledaction_reschedule")
        return HttpResponseRedirect(f"{url}?ids={ids}")

    def get_urls(self):
        view = self.admin_site.admin_view(self.reschedule_view)
        return [
            path("reschedule/", view, name="followups_scheduledaction_reschedule"),
            *super().get_urls(),
        ]

    def reschedule_view(self, request: HttpRequest):
        if not self.has_change_permission(request):
            raise PermissionDenied
        raw_ids = (request.POST.get("ids") or request.GET.get("ids") or "").split(",")
        try:
            actions = list(
                ScheduledAction.objects.filter(pk__in=[i for i in raw_ids if i]).select_related(
                    "prospect"
                )
            )
        except ValidationError:
            actions = []
        changelist = reverse("admin:followups_scheduledaction_changelist")
        if not actions:
            self.message_user(request, "No actions selected to reschedule.", messages.ERROR)
            return HttpResponseRedirect(changelist)
        form = RescheduleForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                for action in actions:  # each client's zone: all valid, or none moved
                    services.validate_when(form.when_for(action))
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
            "actions_to_move": actions,
            "ids": ",".join(str(a.pk) for a in actions),
            "pending": ActionStatus.PENDING,
        }
        return TemplateResponse(request, "admin/followups/scheduledaction/reschedule.html", context)


class MeetingForm(forms.ModelForm):
    """Whatever booking or moving would refuse is refused here, as a form error: save_model
    runs after validation, where a refusal could only be a server error."""

    class Meta:
        model = Meeting
        fields = ("prospect", "starts_at", "title")

    def clean_starts_at(self):
        starts_at = self.cleaned_data["starts_at"]
        if self.instance.pk is not None and "starts_at" not in self.changed_data:
            return starts_at  # not moved: a past or cancelled meeting may still be renamed
        if self.instance.status == Meeting.Status.CANCELLED:
            raise ValidationError("This meeting is cancelled: book a new one instead.")
        try:
            services.validate_when(starts_at, name="starts_at")
        except SchedulingError as exc:
            raise ValidationError(str(exc)) from None
        return starts_at


@admin.register(Meeting)
class MeetingAdmin(ShownFieldLookupsOnly, admin.ModelAdmin):
    form = MeetingForm
    list_display = ("id", "prospect", "starts_client_time", "starts_utc", "status", "title")
    list_filter = ("status", ("starts_at", admin.DateFieldListFilter))
    search_fields = ("prospect__display_name", "prospect__username", "=prospect__telegram_id")
    list_select_related = ("prospect",)
    readonly_fields = ("status", "created_at", "updated_at")
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
        if not change:
            booked = services.book_meeting(obj.prospect, obj.starts_at, title=obj.title)
            obj.pk = booked.pk
            return
        if "starts_at" in form.changed_data:
            services.move_meeting(Meeting.objects.get(pk=obj.pk), obj.starts_at)
        Meeting.objects.filter(pk=obj.pk).update(title=obj.title)

    @admin.action(
        description="Cancel selected meetings and their reminders", permissions=["change"]
    )
    def cancel_selected(self, request, queryset):
        meetings = list(queryset.exclude(status=Meeting.Status.CANCELLED))
        for meeting in meetings:
            services.cancel_meeting(meeting)
        self.message_user(request, f"Cancelled {len(meetings)} meetings.", messages.SUCCESS)


@admin.register(Prospect)
class ProspectAdmin(ShownFieldLookupsOnly, admin.ModelAdmin):
    list_display = (
        "telegram_id",
        "display_name",
        "username",
        "time_zone",
        "language",
        "opted_out_at",
        "unreachable_since",
        "last_inbound_at",
        "last_outbound_at",
    )
    list_filter = ("language", "time_zone")
    search_fields = ("display_name", "username", "=telegram_id")
    # access_hash is left out on purpose: staff have no use for it.
    fields = (
        "telegram_id",
        "display_name",
        "username",
        "time_zone",
        "language",
        "opted_out_at",
        "unreachable_since",
        "unreachable_reason",
        "last_inbound_at",
        "last_reply_at",
        "last_outbound_at",
        "created_at",
        "updated_at",
    )
    # Staff may correct a name, a time zone or a language; the rest comes from Telegram.
    readonly_fields = tuple(f for f in fields if f not in ("display_name", "time_zone", "language"))
    inlines = (ActionInline, MeetingInline)
    actions = ("opt_out_selected",)

    def has_add_permission(self, request):
        return False  # prospects come from Telegram

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(
        description="Opt out: cancel everything, never write first", permissions=["change"]
    )
    def opt_out_selected(self, request, queryset):
        cancelled = sum(services.opt_out(p) for p in queryset.filter(opted_out_at__isnull=True))
        self.message_user(
            request, f"Opted out; {cancelled} pending actions cancelled.", messages.SUCCESS
        )
