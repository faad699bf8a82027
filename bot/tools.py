"""The agent's tools: what they do (for Claude and the rule-based fallback alike); their
schemas for Claude are in bot.tool_schemas.

The model never does date arithmetic: `schedule_followup` and `book_meeting` take the
client's own words, the deterministic resolver computes the time, and the result says exactly
what was scheduled (or that the client must be asked) so the confirmation is exact. Every call
is validated; bad input schedules nothing, the model is told why, and the call is logged as a
ToolCall that staff see in the admin.

A tool acts only on the client of the conversation: there is no input naming anyone else, and
a key a tool does not take is refused. Input text is cleaned (followups.cleaning) and bounded
before anything is stored; scheduling calls (follow-ups, restores, meetings) are capped per
message, and a repeat of the same time is the same action or meeting, not a second one.
"""

import json
import logging
import re
import reprlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import DatabaseError, transaction

from bot.models import ToolCall
from bot.tool_schemas import REASON_LIMIT, TOOLS
from followups import services
from followups.cleaning import clean_json, clean_text
from followups.messenger import MAX_TEXT_LENGTH
from followups.models import (
    MAX_LINK_LENGTH,
    MAX_PLACE_LENGTH,
    ActionStatus,
    ActionType,
    Meeting,
    Prospect,
    ScheduledAction,
)
from followups.services import SchedulingError
from followups.texts import describe_when
from followups.timeresolver import (
    ResolverInputError,
    resolve_fields,
    resolve_text,
)

log = logging.getLogger(__name__)

# At most this many scheduling calls in one turn: a model looping on the tool must not
# flood the client's schedule.
MAX_SCHEDULING_CALLS_PER_TURN = 3
WHEN_TEXT_LIMIT = 1000
# A logged tool input longer than this (as JSON) is stored cut, as a string.
STORED_INPUT_LIMIT = 10_000
ALREADY = "already scheduled; nothing new was added"


@dataclass
class Turn:
    """One client message being answered: who, when, and what the tools did so far."""

    prospect: Prospect
    now: datetime
    agent: str  # "claude" or "fallback"
    acknowledgement: bool = False  # the message only acknowledged a promise just made
    cancelled_now: list[UUID] = field(default_factory=list)
    scheduled: list[ScheduledAction] = field(default_factory=list)
    scheduling_calls: int = 0
    opted_out: bool = False
    forwarded: bool = False  # the message was forwarded: someone else's words, not the client's
    text: str = ""  # the client's message, as the agent reads it

    @property
    def changed_anything(self) -> bool:
        return bool(self.scheduled) or self.opted_out


@dataclass(frozen=True)
class ToolResult:
    content: dict[str, Any]
    is_error: bool = False


class _Refused(Exception):
    """Bad tool input: nothing was done; the message says why."""


def run_tool(name: str, tool_input: object, turn: Turn) -> ToolResult:
    """Run one tool call and log it. Never raises for bad input: the model gets the reason."""
    name, tool_input = clean_text(name), clean_json(tool_input)
    handler = _HANDLERS.get(name)
    try:
        if handler is None:
            raise _Refused(
                f"unknown tool {reprlib.repr(name)}; the tools are {', '.join(_HANDLERS)}"
            )
        if not isinstance(tool_input, dict):
            raise _Refused("tool input must be a JSON object")
        _refuse_unknown_keys(name, tool_input)
        result = handler(tool_input, turn)
    except (_Refused, SchedulingError, ResolverInputError) as exc:
        result = ToolResult({"status": "refused", "error": str(exc)}, is_error=True)
    if result.is_error:
        outcome = ToolCall.Outcome.REFUSED
    elif result.content.get("status") in ("ambiguous", "past", "no_time"):
        outcome = ToolCall.Outcome.NEEDS_CLIENT
    else:
        outcome = ToolCall.Outcome.OK
    _log_call(name[:64], tool_input, outcome, result, turn)
    return result


def _refuse_unknown_keys(name: str, tool_input: dict) -> None:
    """A key the tool does not take (say `telegram_id`) is refused, not ignored: the model
    learns that a tool cannot be pointed at anyone but this client."""
    known = _PARAMETERS[name]
    unknown = sorted(set(tool_input) - known)
    if unknown:
        shown = ", ".join(reprlib.repr(key) for key in unknown[:5])
        takes = ", ".join(sorted(known)) or "no input"
        raise _Refused(
            f"{name} does not take {shown} (it takes {takes}); every tool acts on only the "
            "client of this conversation"
        )


def _log_call(name: str, tool_input: object, outcome: str, result: ToolResult, turn: Turn):
    """Store the call for staff. A failed write never fails the turn: the tool has already
    acted (or refused), and the client still needs the reply."""
    try:
        with transaction.atomic():  # a savepoint: an enclosing transaction survives a failure
            ToolCall.objects.create(
                prospect=turn.prospect,
                tool=name,
                tool_input=_stored_input(tool_input),
                outcome=outcome,
                result=result.content,
                agent=turn.agent,
            )
    # A database refusal, or text the driver cannot encode. Its message may quote the input:
    # the class name only.
    except (DatabaseError, ValueError) as exc:
        log.error(
            "tool call not logged tool=%s prospect=%s outcome=%s error=%s",
            name,
            turn.prospect.pk,
            outcome,
            type(exc).__name__,
        )
        return
    log.info("tool %s prospect=%s outcome=%s", name, turn.prospect.pk, outcome)


def _stored_input(tool_input: object) -> dict:
    """The input as staff see it, at most STORED_INPUT_LIMIT characters of JSON."""
    if not isinstance(tool_input, dict):
        tool_input = {"raw": repr(tool_input)}
    text = json.dumps(tool_input, ensure_ascii=False)
    if len(text) <= STORED_INPUT_LIMIT:
        return tool_input
    return {"cut": text[:STORED_INPUT_LIMIT], "chars": len(text)}


def _text(tool_input: dict, key: str, *, required: bool, limit: int) -> str:
    value = tool_input.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _Refused(f"{key} must be a string")
    if required and not value.strip():
        raise _Refused(f"{key} is required")
    if len(value) > limit:
        raise _Refused(f"{key} is {len(value)} characters; at most {limit}")
    return value.strip()


def _model_reading(tool_input: dict, turn: Turn) -> datetime | None:
    """The model's own `follow_up_time`, validated: it is only a cross-check, but a malformed
    one says the call is confused, so the call is refused."""
    raw = tool_input.get("follow_up_time")
    if raw in (None, ""):
        return None
    if not isinstance(raw, str):
        raise _Refused("follow_up_time must be an ISO 8601 string")
    shown = reprlib.repr(raw)
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise _Refused(f"follow_up_time {shown} is not ISO 8601") from None
    try:  # the same rules as for what gets scheduled (services is their one home)
        return services.validate_when(parsed, turn.now, "follow_up_time")
    except SchedulingError as exc:
        raise _Refused(str(exc)) from None


def _require_own_words(turn: Turn) -> None:
    """Times and opt-outs are read from the client's own words only."""
    if turn.forwarded:
        raise _Refused(
            "the client's latest message is forwarded: someone else's words, not a request of "
            "the client's; nothing was done. Ask the client what they want."
        )


def _count_scheduling_call(turn: Turn) -> None:
    turn.scheduling_calls += 1
    if turn.scheduling_calls > MAX_SCHEDULING_CALLS_PER_TURN:
        raise _Refused(f"at most {MAX_SCHEDULING_CALLS_PER_TURN} scheduling calls per message")


def _resolve(tool_input: dict, turn: Turn):
    """The resolver's reading of the client's words (or, when it finds no time in them, of the
    model's structured fields: the same arithmetic), as (resolution, result-if-not-ok)."""
    prospect = turn.prospect
    when_text = _text(tool_input, "when_text", required=True, limit=WHEN_TEXT_LIMIT)
    resolution = resolve_text(when_text, turn.now, prospect.zone)
    fields = tool_input.get("when_fields")
    if resolution.status == "none" and fields:
        if not isinstance(fields, dict):
            raise _Refused("when_fields must be an object")
        resolution = resolve_fields(fields, turn.now, prospect.zone)
    if resolution.status == "ok":
        return resolution, None
    content: dict[str, Any] = {"status": resolution.status, "scheduled": False}
    if resolution.status == "ambiguous":
        content["instruction"] = "The time is ambiguous: ask the client to name a day and time."
        if resolution.unused:
            # words the resolver could not fit into the time: the client meant more than it read
            content["unused_words"] = list(resolution.unused)
            content["instruction"] = (
                "Only part of the client's time could be read (see unused_words): ask the "
                "client to confirm the day and time."
            )
        if resolution.fallback is not None:
            content["possible_reading"] = describe_when(
                resolution.fallback, turn.now, prospect.zone, prospect.language
            )
    elif resolution.status == "past":
        content["instruction"] = "That time has already passed: ask the client for a new one."
    else:
        content["status"] = "no_time"
        content["instruction"] = "No contact time in those words: ask the client when to write."
    return resolution, ToolResult(content)


def _schedule_followup(tool_input: dict, turn: Turn) -> ToolResult:
    _require_own_words(turn)
    when_text = _text(tool_input, "when_text", required=True, limit=WHEN_TEXT_LIMIT)
    template = _text(tool_input, "message_template", required=False, limit=MAX_TEXT_LENGTH)
    reason = _text(tool_input, "reason", required=True, limit=REASON_LIMIT)
    model_reading = _model_reading(tool_input, turn)
    _count_scheduling_call(turn)
    resolution, not_ok = _resolve(tool_input, turn)
    if not_ok:
        return not_ok
    if turn.prospect.opted_out_at:
        _lift_opt_out_by_request(when_text, turn)
    # one promise, one action
    if existing := services.pending_follow_up_at(turn.prospect, resolution.when):
        return ToolResult({**_scheduled_content(existing, turn, model_reading), "note": ALREADY})
    action = services.schedule_action(
        turn.prospect,
        ActionType.FOLLOW_UP,
        resolution.when,
        payload={"message_template": template, "reason": reason, "when_text": when_text},
        client_requested_time=True,
        now=turn.now,
    )
    turn.scheduled.append(action)
    return ToolResult(_scheduled_content(action, turn, model_reading))


def _lift_opt_out_by_request(when_text: str, turn: Turn) -> None:
    """An opted-out client who asks to be written at a time lifts their opt-out: the time
    (`when_text`, which the resolver read) must be in the client's own latest message, and that
    message must not itself ask us to stop. The model cannot lift it on its own."""
    said = _words(turn.text)
    if (
        not _words(when_text)
        or _words(when_text) not in said
        or resolve_text(turn.text[:WHEN_TEXT_LIMIT], turn.now, turn.prospect.zone).opt_out
    ):
        raise _Refused(
            "the client opted out: nothing is scheduled unless the client's latest message "
            "asks to be written at a time (pass those words verbatim as when_text). Do not "
            "ask them for a time; answer what they wrote."
        )
    services.lift_opt_out(
        turn.prospect,
        by=f"client (read by {turn.agent})",
        words=turn.text[: services.LIFT_WORDS_LIMIT],
    )


def _words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


def _scheduled_content(action: ScheduledAction, turn: Turn, model_reading=None) -> dict:
    prospect = turn.prospect
    content = {
        "status": "scheduled",
        "action_id": str(action.pk),
        "when": action.scheduled_for.astimezone(prospect.zone).isoformat(),
        "client_text": describe_when(
            action.scheduled_for, turn.now, prospect.zone, prospect.language
        ),
    }
    if model_reading is not None and abs(model_reading - action.scheduled_for) >= timedelta(
        minutes=1
    ):
        content["note"] = (
            f"Your reading ({model_reading.isoformat()}) differed; the schedule uses the "
            "computed time above. Confirm that one."
        )
    return content


def _cancel_followups(tool_input: dict, turn: Turn) -> ToolResult:
    reason = _text(tool_input, "reason", required=True, limit=REASON_LIMIT)
    count = services.cancel_pending_followups(turn.prospect, reason=f"agent: {reason}")
    return ToolResult({"status": "cancelled", "count": count})


def _restore_followup(tool_input: dict, turn: Turn) -> ToolResult:
    raw = _text(tool_input, "action_id", required=True, limit=64)
    try:
        action_id = UUID(raw)
    except ValueError:
        raise _Refused(f"action_id {raw!r} is not an id") from None
    if action_id not in turn.cancelled_now:
        raise _Refused("only a follow-up cancelled by the client's latest message can be restored")
    _count_scheduling_call(turn)
    old = ScheduledAction.objects.get(pk=action_id, status=ActionStatus.CANCELLED)
    if existing := services.pending_follow_up_at(turn.prospect, old.scheduled_for):
        return ToolResult({**_scheduled_content(existing, turn), "note": ALREADY})
    if turn.prospect.actions.filter(payload__restored_from=str(old.pk)).exists():
        raise _Refused("that follow-up was already restored once (and cancelled since)")
    action = services.schedule_action(
        turn.prospect,
        ActionType.FOLLOW_UP,
        old.scheduled_for,
        payload={**old.payload, "restored_from": str(old.pk)},
        client_requested_time=old.client_requested_time,
        now=turn.now,
    )
    turn.scheduled.append(action)
    log.info("follow-up kept id=%s restored_from=%s reason=plan unchanged", action.pk, old.pk)
    return ToolResult(_scheduled_content(action, turn))


def _opt_out(tool_input: dict, turn: Turn) -> ToolResult:
    _require_own_words(turn)
    count = services.opt_out(
        turn.prospect,
        by=f"client (read by {turn.agent})",
        words=turn.text[: services.LIFT_WORDS_LIMIT],
    )
    turn.opted_out = True
    return ToolResult({"status": "opted_out", "cancelled": count})


def _book_meeting(tool_input: dict, turn: Turn) -> ToolResult:
    _require_own_words(turn)
    title = _text(tool_input, "title", required=False, limit=200)
    link = _text(tool_input, "link", required=False, limit=MAX_LINK_LENGTH)
    place = _text(tool_input, "place", required=False, limit=MAX_PLACE_LENGTH)
    _count_scheduling_call(turn)
    resolution, not_ok = _resolve(tool_input, turn)
    if not_ok:
        return not_ok
    upcoming = services.upcoming_meetings(turn.prospect, turn.now)
    if same := upcoming.filter(starts_at=resolution.when).first():  # one time, one meeting
        return ToolResult({**_booked_content(same, turn), "note": "already booked; nothing new"})
    count, limit = upcoming.count(), settings.FOLLOWUPS_MAX_ACTIVE_MEETINGS_PER_PROSPECT
    if count >= limit:
        raise _Refused(
            f"the client already has {count} upcoming meetings; the agent may book at most "
            f"{limit}. Nothing was booked: tell the client a manager will get back to them"
        )
    meeting = services.book_meeting(
        turn.prospect, resolution.when, title=title, link=link, place=place
    )
    return ToolResult(_booked_content(meeting, turn))


def _booked_content(meeting: Meeting, turn: Turn) -> dict:
    prospect = turn.prospect
    return {
        "status": "booked",
        "meeting_id": meeting.pk,
        "when": meeting.starts_at.astimezone(prospect.zone).isoformat(),
        "client_text": describe_when(meeting.starts_at, turn.now, prospect.zone, prospect.language),
        "reminders": meeting.reminders.filter(status=ActionStatus.PENDING).count(),
    }


_HANDLERS = {
    "schedule_followup": _schedule_followup,
    "cancel_followups": _cancel_followups,
    "restore_followup": _restore_followup,
    "opt_out": _opt_out,
    "book_meeting": _book_meeting,
}
_PARAMETERS = {tool["name"]: set(tool["input_schema"]["properties"]) for tool in TOOLS}
