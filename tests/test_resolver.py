"""The contact-time resolver: the corpus end to end, then the arithmetic and the structured path.

No database: everything here is pure computation.
"""

import json
from dataclasses import FrozenInstanceError
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from followups.timeresolver import (
    STRUCTURED_SCHEMA,
    Resolution,
    ResolverInputError,
    Status,
    resolve_fields,
    resolve_text,
)
from followups.timeresolver.lexicon import tokenize, transliterate

CORPUS_PATH = Path(__file__).with_name("resolver_corpus.jsonl")
CORPUS = [json.loads(line) for line in CORPUS_PATH.read_text(encoding="utf-8").splitlines()]
MAKASSAR = "Asia/Makassar"


def local(text: str, tz: str = MAKASSAR) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz))


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


# --- the corpus ----------------------------------------------------------------------------------


def test_corpus_is_broad():
    assert len(CORPUS) >= 250
    assert len({case["id"] for case in CORPUS}) == len(CORPUS)
    assert {case["tz"] for case in CORPUS} >= {MAKASSAR, "Europe/Moscow", "America/New_York"}
    assert {case["expect_status"] for case in CORPUS} == {"ok", "ambiguous", "past", "none"}
    assert len({case["now"] for case in CORPUS}) >= 20


@pytest.mark.parametrize("case", CORPUS, ids=[case["id"] for case in CORPUS])
def test_corpus(case):
    result = resolve_text(case["text"], case["now"], case["tz"])
    assert (result.status, iso(result.when)) == (case["expect_status"], case["expect_when"]), (
        result.reason
    )
    if "expect_fallback" in case:
        assert iso(result.fallback) == case["expect_fallback"], result.reason


# --- arithmetic edge cases, through the structured path ------------------------------------------


def fields_at(fields: dict, now: str, tz: str = MAKASSAR) -> Resolution:
    return resolve_fields(fields, local(now, tz), tz)


@pytest.mark.parametrize(
    ("now", "months", "expected"),
    [
        ("2027-01-31 09:00", 1, "2027-02-28 10:00"),  # clamped to the month's end
        ("2028-01-31 09:00", 1, "2028-02-29 10:00"),  # leap year
        ("2026-03-31 09:00", 1, "2026-04-30 10:00"),
        ("2026-11-30 09:00", 3, "2027-02-28 10:00"),  # across the year end
        ("2026-12-15 09:00", 1, "2027-01-15 10:00"),
    ],
)
def test_months_keep_the_day_clamped_to_the_month_end(now, months, expected):
    assert fields_at({"months_ahead": months}, now).when == local(expected)


def test_feb_29_waits_for_a_leap_year():
    assert fields_at({"day": 29, "month": 2}, "2026-11-18 14:30").when == local("2028-02-29 10:00")
    assert fields_at({"day": 29, "month": 2}, "2028-02-28 10:30").when == local("2028-02-29 10:00")


def test_year_end():
    now = "2026-12-31 18:00"
    assert fields_at({"days_ahead": 1}, now).when == local("2027-01-01 10:00")
    assert fields_at({"week": "next"}, now).when == local("2027-01-04 10:00")
    assert fields_at({"day": 5, "month": 1}, now).when == local("2027-01-05 10:00")


def test_next_week_said_on_sunday_is_tomorrow():
    assert fields_at({"week": "next"}, "2026-11-22 11:00").when == local("2026-11-23 10:00")


def test_tomorrow_just_after_midnight_is_ambiguous_with_the_calendar_tomorrow():
    result = fields_at({"days_ahead": 1}, "2026-11-25 00:40")
    assert result.status == Status.AMBIGUOUS
    assert result.when is None
    assert result.fallback == local("2026-11-26 10:00")
    assert fields_at({"days_ahead": 1}, "2026-11-25 04:00").status == Status.OK


def test_todays_weekday_is_next_week_and_ambiguous_early_that_morning():
    early = fields_at({"weekday": "monday"}, "2026-11-23 07:40")
    assert (early.status, early.fallback) == (Status.AMBIGUOUS, local("2026-11-30 10:00"))
    later = fields_at({"weekday": "monday"}, "2026-11-23 12:00")
    assert (later.status, later.when) == (Status.OK, local("2026-11-30 10:00"))


def test_next_weekday_is_ambiguous_only_while_this_weeks_is_ahead():
    ahead = fields_at({"weekday": "friday", "weekday_modifier": "next"}, "2026-11-18 14:30")
    assert (ahead.status, ahead.fallback) == (Status.AMBIGUOUS, local("2026-11-27 10:00"))
    gone = fields_at({"weekday": "monday", "weekday_modifier": "next"}, "2026-11-18 14:30")
    assert (gone.status, gone.when) == (Status.OK, local("2026-11-23 10:00"))
    week = fields_at({"weekday": "friday", "week": "next"}, "2026-11-18 14:30")
    assert (week.status, week.when) == (Status.OK, local("2026-11-27 10:00"))


@pytest.mark.parametrize(
    ("now", "status", "moment"),
    [
        ("2026-11-18 14:30", Status.OK, "2026-11-20 10:00"),  # Wednesday
        ("2026-11-20 09:15", Status.OK, "2026-11-20 10:00"),  # Friday morning
        ("2026-11-20 11:00", Status.OK, "2026-11-20 17:00"),  # Friday, 10:00 gone: end of day
        ("2026-11-20 15:00", Status.AMBIGUOUS, "2026-11-27 10:00"),  # Friday afternoon
        ("2026-11-21 10:00", Status.AMBIGUOUS, "2026-11-27 10:00"),  # Saturday
    ],
)
def test_end_of_the_week(now, status, moment):
    result = fields_at({"week_part": "end"}, now)
    assert result.status == status
    assert (result.when or result.fallback) == local(moment)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2026-11-18 14:30", "2026-11-21 10:00"),
        ("2026-11-21 09:00", "2026-11-21 10:00"),
        ("2026-11-21 10:00", "2026-11-22 10:00"),  # strictly after now
        ("2026-11-22 11:00", "2026-11-28 10:00"),
    ],
)
def test_weekend_is_the_first_weekend_day_strictly_after_now(now, expected):
    assert fields_at({"weekend": True}, now).when == local(expected)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"week": "after_next"}, "2026-11-30 10:00"),
        ({"week": "after_next", "weekday": "wednesday"}, "2026-12-02 10:00"),
        ({"week": "after_next", "weekend": True}, "2026-12-05 10:00"),
        ({"week": "this", "bound": "after"}, "2026-11-23 10:00"),  # "после этой недели"
        ({"week": "next", "bound": "after"}, "2026-11-30 10:00"),  # "после следующей недели"
        ({"weekend": True, "bound": "after"}, "2026-11-23 10:00"),  # "после выходных"
        ({"week": "next", "part_of_day": "lunch", "bound": "after"}, "2026-11-23 14:00"),
    ],
)
def test_the_week_after_next_and_after_a_week(fields, expected):
    assert fields_at(fields, "2026-11-18 14:30").when == local(expected)


def test_days_before_a_named_day():
    now = "2026-11-18 14:30"
    before = fields_at({"day": 1, "month": 12, "days_before": 2}, now)
    assert before.when == local("2026-11-29 10:00")  # "за 2 дня до 1 декабря"
    gone = fields_at({"day": 20, "month": 11, "days_before": 7}, now)
    assert gone.status == Status.PAST  # a week before the 20th was the 13th
    with pytest.raises(ResolverInputError, match="days_before"):
        fields_at({"days_before": 2}, now)


def test_durations_are_absolute_across_dst_and_truncated_to_the_minute():
    ny = "America/New_York"
    result = resolve_fields({"duration_minutes": 180}, "2026-10-31T23:30:59", ny)
    assert iso(result.when) == "2026-11-01T01:30:00-05:00"  # three real hours, clocks fell back
    day = resolve_fields({"days_ahead": 1, "hour": 10, "meridiem": "am"}, "2026-10-31T23:30", ny)
    assert iso(day.when) == "2026-11-01T10:00:00-05:00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("через сутки наберите", "2027-03-28T12:00:00+01:00"),  # 24 hours, across BST
        ("через 2 суток", "2027-03-29T12:00:00+01:00"),
        ("через 2 дня", "2027-03-29T10:00:00+01:00"),  # days are calendar days at 10:00
    ],
)
def test_sutki_are_24_hours_and_days_calendar_days(text, expected):
    result = resolve_text(text, "2027-03-27T11:00", "Europe/London")
    assert (result.status, iso(result.when)) == (Status.OK, expected)


@pytest.mark.parametrize(
    ("text", "hhmm"),
    [
        ("tmrw aft", "14:00"),
        ("tmrw mrng", "10:00"),
        ("tmrw evng", "19:00"),
        ("tmrw aft 3", "15:00"),
    ],
)
def test_short_parts_of_the_day_are_read(text, hhmm):
    result = resolve_text(text, "2026-11-18T11:00", MAKASSAR)
    assert (result.status, iso(result.when)) == (Status.OK, iso(local(f"2026-11-19 {hhmm}")))


@pytest.mark.parametrize("text", ["tmrw 9 msk", "завтра 9 по Москве", "tmrw 9 moscow time"])
def test_a_bare_hour_before_a_zone_is_on_that_clock(text):
    result = resolve_text(text, "2026-11-18T11:00", MAKASSAR)
    assert (result.status, iso(result.when)) == (Status.OK, iso(local("2026-11-19 14:00")))


def test_a_wall_time_skipped_by_dst_moves_forward():
    fields = {"days_ahead": 1, "hour": 2, "minute": 30, "meridiem": "am"}
    result = resolve_fields(fields, "2027-03-13T20:00", "America/New_York")
    assert iso(result.when) == "2027-03-14T03:30:00-04:00"


@pytest.mark.parametrize(
    ("fields", "hour"),
    [
        ({"hour": 0}, 0),
        ({"hour": 1}, 13),
        ({"hour": 7}, 19),
        ({"hour": 8}, 8),
        ({"hour": 11}, 11),
        ({"hour": 12}, 12),
        ({"hour": 17}, 17),
        ({"hour": 7, "meridiem": "am"}, 7),
        ({"hour": 12, "meridiem": "am"}, 0),
        ({"hour": 9, "meridiem": "pm"}, 21),
        ({"hour": 9, "part_of_day": "evening"}, 21),
        ({"hour": 5, "part_of_day": "morning"}, 5),
        ({"hour": 3, "part_of_day": "afternoon"}, 15),
        ({"hour": 12, "part_of_day": "afternoon"}, 12),
        ({"hour": 3, "part_of_day": "night"}, 3),
        ({"hour": 11, "part_of_day": "night"}, 23),
        ({"hour": 12, "part_of_day": "night"}, 0),
    ],
)
def test_clock_hours(fields, hour):
    result = fields_at({"days_ahead": 2, **fields}, "2026-11-18 14:30")
    assert result.when == local(f"2026-11-20 {hour:02d}:{fields.get('minute', 0):02d}")


@pytest.mark.parametrize(
    ("part", "hhmm"),
    [
        ("morning", "10:00"),
        ("noon", "12:00"),
        ("lunch", "13:00"),
        ("afternoon", "14:00"),
        ("towards_evening", "17:00"),
        ("end_of_day", "17:00"),
        ("evening", "19:00"),
    ],
)
def test_parts_of_the_day(part, hhmm):
    result = fields_at({"days_ahead": 1, "part_of_day": part}, "2026-11-18 14:30")
    assert result.when == local(f"2026-11-19 {hhmm}")


def test_night_is_no_contact_time():
    result = fields_at({"days_ahead": 1, "part_of_day": "night"}, "2026-11-18 14:30")
    assert (result.status, result.when, result.fallback) == (Status.AMBIGUOUS, None, None)


def test_today_that_has_gone_is_past_or_still_under_way():
    assert fields_at({"days_ahead": 0, "hour": 9}, "2026-11-18 15:00").status == Status.PAST
    evening = {"days_ahead": 0, "part_of_day": "evening"}
    assert fields_at(evening, "2026-11-18 20:00").status == Status.AMBIGUOUS
    assert fields_at({"days_ahead": 0}, "2026-11-18 15:00").status == Status.AMBIGUOUS


def test_a_clock_time_alone_is_today_or_else_tomorrow():
    assert fields_at({"hour": 5}, "2026-11-18 14:30").when == local("2026-11-18 17:00")
    assert fields_at({"hour": 5}, "2026-11-18 18:00").when == local("2026-11-19 17:00")


def test_dates_without_a_year():
    now = "2026-11-18 14:30"
    assert fields_at({"day": 5, "month": 11}, now).status == Status.PAST  # days ago
    assert fields_at({"day": 1, "month": 10}, now).when == local("2027-10-01 10:00")
    assert fields_at({"day": 3}, now).when == local("2026-12-03 10:00")
    assert fields_at({"day": 31}, now).when == local("2026-12-31 10:00")
    assert fields_at({"day": 20, "month": "next"}, now).when == local("2026-12-20 10:00")


def test_a_year_alone_is_past_once_gone_and_else_names_no_day():
    now = "2026-11-18 14:30"
    assert fields_at({"year": 2025}, now).status == Status.PAST
    assert fields_at({"year": 2026}, now).status == Status.AMBIGUOUS
    assert fields_at({"year": 2028}, now).fallback is None
    said = resolve_text("давайте в 2028", "2026-11-18T14:30", MAKASSAR)  # «в», no «году»
    assert (said.status, said.fallback) == (Status.AMBIGUOUS, None)
    assert resolve_text("давайте в 2025", "2026-11-18T14:30", MAKASSAR).status == Status.PAST


def test_a_date_and_a_weekday_that_disagree_are_ambiguous():
    result = fields_at({"day": 20, "month": 11, "weekday": "saturday"}, "2026-11-18 14:30")
    assert (result.status, result.fallback) == (Status.AMBIGUOUS, local("2026-11-20 10:00"))


def test_alternatives_take_the_earliest_as_fallback():
    fields = {"alternatives": [{"weekday": "tuesday"}, {"weekday": "monday", "hour": 5}]}
    result = fields_at(fields, "2026-11-18 14:30")
    assert (result.status, result.fallback) == (Status.AMBIGUOUS, local("2026-11-23 17:00"))
    same = {"alternatives": [{"weekday": "friday"}, {"day": 20, "month": 11}]}
    assert fields_at(same, "2026-11-18 14:30").status == Status.OK


def test_approximate_amounts_are_ambiguous_with_a_fallback():
    result = fields_at({"days_ahead": 3, "approximate": True}, "2026-11-18 14:30")
    assert (result.status, result.fallback) == (Status.AMBIGUOUS, local("2026-11-21 10:00"))


def test_bounds():
    now = "2026-11-18 14:30"
    assert fields_at({"hour": 3, "bound": "after"}, now).when == local("2026-11-18 15:00")
    assert fields_at({"weekday": "friday", "bound": "after"}, now).when == local("2026-11-21 10:00")
    assert fields_at({"hour": 5, "bound": "before"}, now).status == Status.AMBIGUOUS
    lunch = fields_at({"days_ahead": 1, "part_of_day": "lunch", "bound": "before"}, now)
    assert lunch.when == local("2026-11-19 10:00")


# --- the text path and the structured path agree -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("в следующую пятницу", {"weekday": "friday", "weekday_modifier": "next"}),
        ("завтра после обеда", {"days_ahead": 1, "part_of_day": "afternoon"}),
        ("через полтора часа", {"duration_minutes": 90}),
        ("к концу недели", {"week_part": "end"}),
        ("в начале следующего месяца", {"month": "next", "month_part": "start"}),
        ("3 декабря в 11", {"day": 3, "month": 12, "hour": 11}),
        ("в пятницу на следующей неделе", {"weekday": "friday", "week": "next"}),
        (
            "в понедельник или вторник",
            {"alternatives": [{"weekday": "monday"}, {"weekday": "tuesday"}]},
        ),
    ],
)
def test_text_and_fields_share_the_arithmetic(text, fields):
    now = local("2026-11-18 14:30")
    from_text, from_fields = resolve_text(text, now), resolve_fields(fields, now)
    assert (from_text.status, from_text.when, from_text.fallback) == (
        from_fields.status,
        from_fields.when,
        from_fields.fallback,
    )


# --- the structured schema and its validation ----------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"dayz_ahead": 1}, "dayz_ahead"),
        ({"days_ahead": "1"}, "days_ahead"),
        ({"days_ahead": True}, "days_ahead"),
        ({"hour": 25}, "hour"),
        ({"weekday": "funday"}, "weekday"),
        ({"month": "soon"}, "month"),
        ({"duration_minutes": 60, "hour": 5}, "duration_minutes"),
        ({"days_ahead": 1, "week": "next"}, "days_ahead"),
        ({"weekday_modifier": "next"}, "weekday_modifier"),
        ({"minute": 30}, "minute"),
        ({"vague": True, "days_ahead": 1}, "vague"),
        ({"alternatives": [{"days_ahead": 1}]}, "alternatives"),
        ({"alternatives": [{"days_ahead": 1}, {"hour": 99}]}, "alternatives[1].hour"),
        ({"alternatives": [{"days_ahead": 1}, {"alternatives": []}]}, "alternatives[1]"),
        ({"year": "next"}, "year"),
        ({"year": 2027, "day": 3}, "year"),
        ({"bound": "after"}, "bound"),
        ({"week": "after_last"}, "week"),
        ({"day": 3, "days_before": 0}, "days_before"),
    ],
)
def test_bad_fields_are_named(fields, named):
    with pytest.raises(ResolverInputError, match=named.replace("[", r"\[").replace("]", r"\]")):
        resolve_fields(fields, "2026-11-18T14:30")


def test_empty_and_non_object_fields_are_rejected():
    with pytest.raises(ResolverInputError, match="no fields"):
        resolve_fields({}, "2026-11-18T14:30")
    with pytest.raises(ResolverInputError, match="object"):
        resolve_fields(["days_ahead"], "2026-11-18T14:30")


def test_schema_is_json_and_lists_every_field():
    schema = json.loads(json.dumps(STRUCTURED_SCHEMA))
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert {"duration_minutes", "days_ahead", "weekday", "week", "hour", "part_of_day"} <= set(
        schema["properties"]
    )
    item = schema["properties"]["alternatives"]["items"]
    assert set(item["properties"]) == set(schema["properties"]) - {"alternatives"}


# --- the text path: result shape, inputs, context ------------------------------------------------


def test_resolution_shape():
    text = "Нас будет 4 человека, бюджет 2000$, напишите завтра после 3"
    result = resolve_text(text, "2026-11-18T14:30", MAKASSAR)
    assert text[slice(*result.span)] == "завтра после 3"
    assert result.to_json() == {
        "status": "ok",
        "when": "2026-11-19T15:00:00+08:00",
        "fallback": None,
        "span": list(result.span),
        "reason": result.reason,
        "opt_out": False,
        "unused": [],
    }
    assert "завтра после 3" in result.reason
    with pytest.raises(FrozenInstanceError):
        result.status = Status.NONE  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "unused", "fallback"),
    [
        ("как насчет пятницы 13", ["13"], "2026-11-20 10:00"),  # Friday the 13th, or at 13?
        ("через 6 пятниц", ["6"], "2026-11-20 10:00"),  # no sixth Friday is counted
        ("давайте в пятницу, 3 и 4", ["3"], "2026-11-20 10:00"),
        # forms of time words no rule reads: cut short, a city, a second zone after "или"
        ("tomo at 5", ["tomo"], "2026-11-18 17:00"),
        ("завт в 10", ["завт"], "2026-11-19 10:00"),
        ("tomorrow at 5, London", ["london"], "2026-11-19 17:00"),
        ("в 10 по Москве или по Киеву", ["по киеву"], "2026-11-18 15:00"),
        # inside a joined time, in its sentence, before a number, in Latin letters
        ("text me Frid afternoon", ["frid"], "2026-11-18 14:00"),
        ("давайте завт, только не раньше двух", ["завт"], "2026-11-18 14:00"),
        ("Давайте в пятницу, 4 дека, в 16:00", ["4", "дека"], "2026-11-20 10:00"),
        ("zavt v 17:00", ["zavt"], "2026-11-18 17:00"),
        # a part of the day written short with letters left out, beside a day
        ("tmrw mng", ["mng"], "2026-11-19 10:00"),
        ("tmrw nit", ["nit"], "2026-11-19 10:00"),
    ],
)
def test_a_time_bearing_word_left_unread_is_never_ok(text, unused, fallback):
    """Accounting: a number, a weekday, a month, an ordinal or a zone beside the time that no
    reading used makes the answer a guess: `ambiguous`, the best reading as fallback, and
    the words listed (the agent asks the client)."""
    result = resolve_text(text, "2026-11-18T11:00", MAKASSAR)
    assert (result.status, iso(result.fallback)) == (Status.AMBIGUOUS, iso(local(fallback)))
    assert list(result.unused) == unused
    assert result.to_json()["unused"] == unused
    assert f"not read: '{unused[0]}'" in result.reason


def test_a_look_alike_beside_a_time_is_not_a_time_word():
    """ "may" beside a time is the modal verb; the month leans on a number or a preposition."""
    result = resolve_text("tomorrow may be better", "2026-11-18T11:00", MAKASSAR)
    assert (result.status, result.unused) == (Status.OK, ())
    assert resolve_text("Friday may work", "2026-11-18T11:00", MAKASSAR).when == local(
        "2026-11-20 10:00"
    )


def test_the_day_after_a_day_keeps_its_clock_time():
    """ "the day after tmrw, 9 a.m." is days_before -1 (negative: after); 0 is no offset."""
    now = "2026-11-18 11:00"
    assert fields_at({"days_ahead": 1, "days_before": -1, "hour": 9}, now).when == local(
        "2026-11-20 09:00"
    )
    with pytest.raises(ResolverInputError, match="days_before"):
        fields_at({"days_ahead": 1, "days_before": 0}, now)


def test_words_read_by_a_time_set_aside_are_accounted_for():
    """A time ruled out or replaced was read: "не в пятницу, а в субботу" leaves nothing."""
    result = resolve_text("не в пятницу, а в субботу в 5", "2026-11-18T11:00", MAKASSAR)
    assert (result.status, result.unused) == (Status.OK, ())
    assert result.when == local("2026-11-21 17:00")


def test_opt_out_is_flagged_not_resolved():
    result = resolve_text("Спасибо, не пишите мне больше", "2026-11-18T14:30")
    assert (result.status, result.when, result.opt_out) == (Status.NONE, None, True)
    assert "не пишите мне больше" in "Спасибо, не пишите мне больше"[slice(*result.span)]
    keeps_talking = resolve_text("пока не интересно, напишите через месяц", "2026-11-18T14:30")
    assert (keeps_talking.status, keeps_talking.opt_out) == (Status.OK, False)


def test_now_naive_is_local_aware_is_converted_and_none_is_the_present():
    naive = resolve_text("через 2 часа", "2026-11-18T14:30", MAKASSAR)
    aware = resolve_text("через 2 часа", datetime.fromisoformat("2026-11-18T06:30+00:00"))
    assert naive.when == aware.when == local("2026-11-18 16:30")
    present = resolve_text("через 2 часа")
    assert present.when.utcoffset().total_seconds() == 8 * 3600
    assert present.when > datetime.now(ZoneInfo(MAKASSAR))


def test_bad_time_zone_and_now_raise_input_errors():
    with pytest.raises(ResolverInputError, match="time zone"):
        resolve_text("завтра", None, "Mars/Olympus")
    with pytest.raises(ResolverInputError, match="ISO 8601"):
        resolve_text("завтра", "next tuesday")


@pytest.mark.parametrize(
    "text",
    [
        "Бюджет 2 000 000 рупий, 3 спальни, 4 взрослых",
        "Звоните на +62 812 3456 7890",
        "Вилла №12 в 5 минутах от пляжа",
        "Забронировал на 20 ноября 3 ночи",
        "",
        "   ",
        "?!.,",
    ],
)
def test_numbers_that_are_not_contact_times(text):
    assert resolve_text(text, "2026-11-18T14:30").status == Status.NONE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("завтра не могу давай в пятницу", "2026-11-20 10:00"),
        ("утром не могу в обед можно", "2026-11-19 13:00"),
        ("ща занят набери через часик", "2026-11-18 15:30"),
        ("прилетаем 5 декабря напишите завтра", "2026-11-19 10:00"),
        ("не звоните лучше напишите завтра", "2026-11-19 10:00"),
        ("sorry busy today tomorrow same time", "2026-11-19 14:30"),
        ("в пятницу никак у меня вылет в 6 утра давайте в понедельник", "2026-11-23 10:00"),
    ],
)
def test_run_on_messages_keep_each_time_with_its_own_words(text, expected):
    """Typed without punctuation, a message still has clauses: each time keeps its cues."""
    assert resolve_text(text, "2026-11-18T14:30").when == local(expected)


@pytest.mark.parametrize(
    ("text", "status", "expected"),
    [
        # a fraction after "and a": "in 2 and a half hours"
        ("call me in three and a half hours", Status.OK, "2026-11-18 18:00"),
        # a part of the day named with an elided "next": the part is the new time's own
        ("до конца месяца в отпуске, напишите в начале следующего", Status.OK, "2026-12-01 10:00"),
        ("away till end of month, ping me at the start of next", Status.OK, "2026-12-01 10:00"),
        ("на этой неделе занят, давайте в середине следующей", Status.OK, "2026-11-25 10:00"),
        ("в январе не получится, давайте в начале следующего", Status.OK, "2027-02-01 10:00"),
        # a year alone: past once gone, else no day
        ("в 2025 году", Status.PAST, None),
        ("in 2028", Status.AMBIGUOUS, None),
        # a date something else ends or holds until, with no contact word in the sentence
        ("our contract expires on December 31", Status.NONE, None),
        ("подписка истекает 20 января", Status.NONE, None),
        ("договор действует до 31 декабря, напишите 1-го", Status.OK, "2026-12-01 10:00"),
    ],
)
def test_round_30_classes(text, status, expected):
    result = resolve_text(text, "2026-11-18T14:30")
    assert (result.status, result.when) == (status, expected and local(expected)), result.reason


@pytest.mark.parametrize(
    ("text", "status", "expected"),
    [
        # a quarter added to an amount, or an amount of a quarter
        ("перезвоните через 2 часа с четвертью", Status.OK, "2026-11-18 16:45"),
        ("in an hour and a quarter", Status.OK, "2026-11-18 15:45"),
        ("in a quarter of an hour", Status.OK, "2026-11-18 14:45"),
        ("at a quarter past 5", Status.OK, "2026-11-18 17:15"),
        ("в 5 с четвертью", Status.OK, "2026-11-18 17:15"),
        # a minute phrase before midnight or noon
        ("без пяти полночь", Status.OK, "2026-11-18 23:55"),
        ("без четверти час", Status.OK, "2026-11-19 12:45"),
        # weeks counted from a named day: from a weekday, the first is the nearest upcoming one
        ("a week from friday", Status.OK, "2026-11-27 10:00"),
        ("через 2 недели от понедельника", Status.OK, "2026-12-07 10:00"),
        ("созвонимся через неделю от завтра", Status.OK, "2026-11-26 10:00"),
        ("3 days from monday", Status.AMBIGUOUS, None),
        # "по" before a zone abbreviation
        ("в 12 по UTC+5", Status.OK, "2026-11-18 15:00"),
        # a weekday abbreviation that is the whole message; not inside a sentence
        ("Sat.", Status.OK, "2026-11-21 10:00"),
        ("we sat in the sun", Status.NONE, None),
        # "24/7" is round the clock; a gift's date is the occasion
        ("we need 24/7 support", Status.NONE, None),
        ("gifts for march 8 are ready", Status.NONE, None),
    ],
)
def test_round_31_classes(text, status, expected):
    result = resolve_text(text, "2026-11-18T14:30")
    assert (result.status, result.when) == (status, expected and local(expected)), result.reason


# --- vocabulary ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        ("завтар", "tomorrow"),
        ("понеделник", "wd1"),
        ("ч/з пару часов", "in 2 hour"),
        ("в след. пятницу", "at next wd5"),
        ("двадцать пятого", "25th"),
        ("twenty-first", "21th"),
        ("полдесятого", "half 10th"),
        ("cherez 2 chasa", "in 2 hour"),
        ("I sat in the sun", "_ _ in _"),
    ],
)
def test_tokenizer(text, tags):
    assert " ".join(tok.tag for tok in tokenize(text)) == tags


def test_transliteration():
    assert transliterate("poslezavtra") == "послезавтра"
    assert transliterate("vecherom") == "вечером"


def test_the_package_does_not_import_django():
    package = Path(__file__).parents[1] / "followups" / "timeresolver"
    for source in package.glob("*.py"):
        text = source.read_text(encoding="utf-8")
        assert "import django" not in text and "from django" not in text, source.name
