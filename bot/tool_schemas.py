"""The agent's tools as Claude sees them: names, descriptions and JSON input schemas.

What each tool does is in bot.tools; the keys a tool accepts are the properties named here.
"""

from followups.models import MAX_LINK_LENGTH, MAX_PLACE_LENGTH
from followups.timeresolver import STRUCTURED_SCHEMA

# The model's own note on why; it is shown to the model again (quoted) in later prompts.
REASON_LIMIT = 200

_WHEN_TEXT = {
    "type": "string",
    "description": "The client's own words about the time, verbatim, e.g. «через 2 часа», "
    "«завтра после обеда», «в следующую пятницу в 11». Do not convert them.",
}
_WHEN_FIELDS = {
    **STRUCTURED_SCHEMA,
    "description": "Optional: the same time as the client's terms in fields (tomorrow = "
    "days_ahead 1; «в 5» = hour 5; no arithmetic). Used only when the server cannot read "
    "when_text.",
}

SCHEDULE_FOLLOWUP = {
    "name": "schedule_followup",
    "description": (
        "Schedule a follow-up message to the client at the time THEY asked for (e.g. "
        "«напиши мне через 2 часа», «свяжись завтра», «в воскресенье», «через неделю»). "
        "Pass the client's words in when_text; the server computes the exact time in the "
        "client's time zone. The result says exactly what was scheduled: confirm it to the "
        "client with the result's `client_text`, word for word. If the result says "
        "`ambiguous`, `past` or `no_time`, nothing was scheduled: ask the client to name a time."
    ),
    "input_schema": {
        "type": "object",
        "properties": {
            "when_text": _WHEN_TEXT,
            "when_fields": _WHEN_FIELDS,
            "follow_up_time": {
                "type": "string",
                "format": "date-time",
                "description": "Optional: your own reading of the time, ISO 8601 with offset. "
                "Only a cross-check; the server's computation is what gets scheduled.",
            },
            "message_template": {
                "type": "string",
                "description": "The follow-up message to send then, in the client's language. "
                "Useful and specific (a micro-insight), not just «напоминаю о себе». Empty: it "
                "is written at send time from the conversation.",
            },
            "reason": {
                "type": "string",
                "maxLength": REASON_LIMIT,
                "description": "Brief explanation of why this follow-up is scheduled.",
            },
        },
        "required": ["when_text", "message_template", "reason"],
    },
}

CANCEL_FOLLOWUPS = {
    "name": "cancel_followups",
    "description": "Cancel all the client's pending follow-ups (not meeting reminders), e.g. "
    "when they say they no longer need to be contacted about it.",
    "input_schema": {
        "type": "object",
        "properties": {
            "reason": {"type": "string", "maxLength": REASON_LIMIT, "description": "Why."}
        },
        "required": ["reason"],
    },
}

RESTORE_FOLLOWUP = {
    "name": "restore_followup",
    "description": "The client's latest message cancelled the follow-ups listed in the system "
    "prompt. If the message leaves that plan unchanged (e.g. «да, жду», a question that does "
    "not change when to write), restore it: same time, same text.",
    "input_schema": {
        "type": "object",
        "properties": {"action_id": {"type": "string", "description": "Id from the list."}},
        "required": ["action_id"],
    },
}

OPT_OUT = {
    "name": "opt_out",
    "description": "The client asks not to be contacted any more («не пишите мне», «отпишите», "
    "«stop»). Cancels everything pending; we never write first to them again.",
    "input_schema": {"type": "object", "properties": {}, "required": []},
}

BOOK_MEETING = {
    "name": "book_meeting",
    "description": "Book a meeting (a call, a video call or in person) at the time the client "
    "agreed to. Pass their words; the server computes the time. Reminders before the meeting "
    "follow automatically and carry the link or place given here; with neither, they promise "
    "none. The same time again is the same meeting; a client has at most a few upcoming "
    "meetings.",
    "input_schema": {
        "type": "object",
        "properties": {
            "when_text": _WHEN_TEXT,
            "when_fields": _WHEN_FIELDS,
            "title": {"type": "string", "description": "Short topic of the meeting."},
            "link": {
                "type": "string",
                "maxLength": MAX_LINK_LENGTH,
                "description": "The video call's http(s) link, only one given in the "
                "conversation; never invent one.",
            },
            "place": {
                "type": "string",
                "maxLength": MAX_PLACE_LENGTH,
                "description": "Where to meet in person, if agreed.",
            },
        },
        "required": ["when_text"],
    },
}

TOOLS = [SCHEDULE_FOLLOWUP, CANCEL_FOLLOWUPS, RESTORE_FOLLOWUP, OPT_OUT, BOOK_MEETING]
