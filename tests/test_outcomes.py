"""The outcomes page: the numbers on a small known data set (summarized closed days and live
open ones alike), the summary's filling, who may see it, bad periods, no data, and charts that
are well-formed SVG."""

import importlib
import io
import re
import threading
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from followups import charts, dispatcher, outcomes, services
from followups.management.commands.reconcile import Command as Reconcile
from followups.models import ActionStatus, ActionType, OutcomeCount, OutcomeDay, ScheduledAction
from tests import test_admin

operator, viewer = test_admin.operator, test_admin.viewer
UTC = ZoneInfo("UTC")
URL = "/admin/outcomes/"
LAST_WEEK = outcomes.Period(date(2026, 11, 12), date(2026, 11, 18))  # the clock: 18 Nov


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def sent(prospect, executed: str, *, late_s: float = 0, asked_before=timedelta(hours=1),
         kind=ActionType.FOLLOW_UP) -> ScheduledAction:  # fmt: skip
    executed_at = at(executed)
    due = executed_at - timedelta(seconds=late_s)
    action = ScheduledAction.objects.create(
        prospect=prospect, action_type=kind, scheduled_for=due,
        status=ActionStatus.EXECUTED, executed_at=executed_at,
    )  # fmt: skip
    ScheduledAction.objects.filter(pk=action.pk).update(created_at=due - asked_before)
    return action


def answer(prospect, when: str) -> None:
    """The client writes, recorded as the listener records it (which marks the answer)."""
    services.record_client_message(prospect, "да", at=at(when))


@pytest.fixture
def known(make_prospect):
    """3 follow-ups sent on 16 Nov whose 24 h are over, 2 answered within them; a reminder
    not answered; a follow-up sent an hour ago (its 24 h not over); a missed and a failed."""
    bali = make_prospect(telegram_id=1, time_zone="Asia/Makassar")  # UTC+8
    moscow = make_prospect(telegram_id=2, time_zone="Europe/Moscow")  # UTC+3
    third = make_prospect(telegram_id=3, time_zone="Asia/Makassar")
    sent(bali, "2026-11-16 02:00", late_s=0.5)  # 10:00 for the client
    answer(bali, "2026-11-16 03:00")
    sent(moscow, "2026-11-16 02:00", late_s=3, asked_before=timedelta(hours=20))  # 05:00
    answer(moscow, "2026-11-17 01:59")
    answer(moscow, "2026-11-16 01:00")  # before the send: not an answer to it
    sent(third, "2026-11-16 06:00", late_s=120, asked_before=timedelta(days=10))  # 14:00
    answer(third, "2026-11-17 06:01")  # 24 h 1 min later: too late
    sent(third, "2026-11-15 06:00", late_s=3600, kind=ActionType.REMINDER)
    sent(bali, "2026-11-18 02:00")  # an hour before the clock's now (03:00 UTC)
    answer(bali, "2026-11-18 02:30")
    sent(bali, "2026-10-01 02:00")  # before the period
    for status, due in ((ActionStatus.MISSED, "2026-11-17 04:00"),
                        (ActionStatus.FAILED, "2026-11-13 04:00"),
                        (ActionStatus.MISSED, "2026-10-01 04:00")):  # fmt: skip
        ScheduledAction.objects.create(
            prospect=bali, action_type=ActionType.FOLLOW_UP, scheduled_for=at(due), status=status
        )


def summarized() -> list[date]:
    return sorted(OutcomeDay.objects.values_list("day", flat=True))


def counts() -> list[tuple]:
    return sorted(OutcomeCount.objects.values_list(
        "day", "status", "action_type", "delay", "late", "hour", "actions", "answers"
    ))  # fmt: skip


def test_the_numbers_on_a_known_data_set(known):
    """12–15 Nov are closed (summarized by the page), 16–18 Nov open (counted live)."""
    out = outcomes.compute(LAST_WEEK)
    assert summarized() == [date(2026, 11, d) for d in (12, 13, 14, 15)]
    assert out.sent == 5
    follow_ups = out.answered_by_type[ActionType.FOLLOW_UP]
    assert (follow_ups.settled, follow_ups.answered) == (3, 2)
    assert round(follow_ups.percent) == 67
    assert out.answered_by_type[ActionType.REMINDER].percent == 0
    assert out.answered_by_type[ActionType.PRE_MEETING_REMINDER].percent is None
    assert (out.answered.settled, out.answered.answered) == (4, 2)
    by_delay = {k: (s.settled, s.answered) for k, s in out.answered_by_delay.items()}
    assert by_delay == {"< 3 h": (1, 1), "3 h – 2 days": (1, 1), "2 – 7 days": (0, 0),
                        "> 7 days": (1, 0)}  # fmt: skip
    by_hour = {h: (s.settled, s.answered) for h, s in out.answered_by_hour.items() if s.settled}
    assert by_hour == {10: (1, 1), 5: (1, 1), 14: (2, 0)}  # the reminder at 14:00 too
    assert out.lateness == {"≤ 1 s": 2, "1–10 s": 1, "10–60 s": 0, "1–5 min": 1,
                            "5–30 min": 0, "> 30 min": 1}  # fmt: skip
    days = LAST_WEEK.days
    assert out.sent_per_day[ActionType.FOLLOW_UP][days.index(date(2026, 11, 16))] == 3
    assert out.sent_per_day[ActionType.REMINDER][days.index(date(2026, 11, 15))] == 1
    assert out.sent_per_day[ActionType.FOLLOW_UP][days.index(date(2026, 11, 18))] == 1
    assert sum(out.missed_failed_per_day[ActionStatus.MISSED]) == 1
    assert out.missed_failed_per_day[ActionStatus.MISSED][days.index(date(2026, 11, 17))] == 1
    assert out.missed_failed_per_day[ActionStatus.FAILED][days.index(date(2026, 11, 13))] == 1


def test_the_summary_gives_what_counting_the_actions_gives(known, monkeypatch):
    period = outcomes.Period(date(2026, 9, 1), date(2026, 11, 18))
    monkeypatch.setattr(outcomes, "PAGE_ROLL_UP_DAYS", 0)
    live = outcomes.compute(period)
    assert summarized() == []
    monkeypatch.setattr(outcomes, "PAGE_ROLL_UP_DAYS", 20)  # bounded: the rest counted live
    partly = outcomes.compute(period)
    assert len(summarized()) == 20
    assert outcomes.roll_up() + outcomes.roll_up() == 46 - 20  # 1 Oct – 15 Nov
    whole = outcomes.compute(period)
    assert live == partly == whole
    assert whole.sent == 6 and sum(whole.missed_failed_per_day[ActionStatus.MISSED]) == 2


def test_roll_up_is_bounded_and_idempotent(known):
    """From the first action kept (1 Oct) to the last closed day (15 Nov): 46 days."""
    assert outcomes.roll_up() == outcomes.ROLL_UP_DAYS == 31  # the latest first
    assert summarized()[0] == date(2026, 10, 16) and summarized()[-1] == date(2026, 11, 15)
    assert outcomes.roll_up() == 15
    rows = counts()
    assert outcomes.roll_up() == 0 and counts() == rows
    # A day summarized again (its mark gone) replaces its rows, never adds to them.
    OutcomeDay.objects.filter(day=date(2026, 11, 15)).delete()
    assert outcomes.roll_up() == 1
    assert counts() == rows
    reminder = [r for r in rows if r[0] == date(2026, 11, 15) and r[5] == outcomes.ALL]
    assert reminder == [(date(2026, 11, 15), "executed", "reminder", 0, 5, -1, 1, 0)]


def test_an_answer_after_the_day_ended_is_counted(make_prospect, clock):
    """A send late on 16 Nov (client's and admin's clock), answered on the 17th: the 16th stays
    open until its sends' 24 h and the margin are over, then is summarized with the answer."""
    client = make_prospect(time_zone="Asia/Makassar")
    clock.move_to(datetime(2026, 11, 17, 9, tzinfo=ZoneInfo("Asia/Makassar")))
    sent(client, "2026-11-16 14:00")  # 22:00 on the 16th for both
    day = outcomes.Period(date(2026, 11, 16), date(2026, 11, 16))
    assert outcomes.compute(day).answered.settled == 0  # its 24 h are not over
    answer(client, "2026-11-17 12:00")  # 20:00 on the 17th
    clock.move_to(datetime(2026, 11, 18, 23, tzinfo=ZoneInfo("Asia/Makassar")))
    assert (outcomes.compute(day).answered.answered, summarized()) == (1, [])  # still open
    clock.move_to(datetime(2026, 11, 19, 0, 1, tzinfo=ZoneInfo("Asia/Makassar")))
    out = outcomes.compute(day)
    assert summarized() == [date(2026, 11, 16)]
    assert (out.answered.settled, out.answered.answered) == (1, 1)
    assert out.answered_by_hour[22] == outcomes.Share(1, 1)


def test_the_page_summarizes_the_days_it_lacks(viewer, known):
    assert viewer.get(URL, {"period": "30"}).status_code == 200
    assert summarized() == outcomes.Period(date(2026, 10, 20), date(2026, 11, 15)).days


def test_the_summary_outlives_the_actions_cleanup_deletes(known, settings):
    outcomes.roll_up()
    settings.FOLLOWUPS_KEEP_EXECUTED_DAYS = 30
    assert dispatcher.cleanup(now=datetime.now(UTC) + timedelta(days=31)) == 9
    out = outcomes.compute(LAST_WEEK)
    days = LAST_WEEK.days
    assert out.sent == 1  # the reminder of the 15th; the open days' sends are gone
    assert out.sent_per_day[ActionType.REMINDER][days.index(date(2026, 11, 15))] == 1
    assert out.missed_failed_per_day[ActionStatus.FAILED][days.index(date(2026, 11, 13))] == 1
    assert out.answered_by_type[ActionType.REMINDER] == outcomes.Share(1, 0)
    assert out.lateness["> 30 min"] == 1


def test_another_zone_has_its_own_days(known):
    """The day axis is the admin's clock (DJANGO_TIME_ZONE): after a change, the kept actions
    are summarized again in the new zone's days, the old zone's rows are not summed."""
    outcomes.roll_up()
    with timezone.override("Europe/Moscow"):  # UTC+3: the 16th's 02:00 UTC sends stay there
        out = outcomes.compute(LAST_WEEK)
        assert OutcomeDay.objects.filter(time_zone="Europe/Moscow").count() == 4
    assert out == outcomes.compute(LAST_WEEK)


def test_the_dispatcher_loop_summarizes_closed_days(transactional_db, known, broker, monkeypatch):
    """The loop closes the connection between passes: a real transaction per pass."""
    stop = threading.Event()
    deadline = threading.Timer(30, stop.set)  # a loop that never summarizes fails, not hangs
    deadline.start()
    roll_up = outcomes.roll_up

    def roll_up_once(*args, **kwargs):
        stop.set()  # the loop ends after this pass
        return roll_up(*args, **kwargs)

    monkeypatch.setattr(outcomes, "roll_up", roll_up_once)
    out = io.StringIO()
    Reconcile(stdout=out)._watch(stop, interval=0.5, cleanup_every=1)
    deadline.cancel()
    assert "summarized the outcomes of 31 days" in out.getvalue()
    assert len(summarized()) == 31


def svgs(html: str) -> list[ET.Element]:
    return [
        ET.fromstring(svg) for svg in re.findall(r"<svg [^>]*class=\"chart\".*?</svg>", html, re.S)
    ]


def test_a_viewer_sees_charts_and_tables(viewer, known):
    response = viewer.get(URL, {"period": "7"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<strong>2</strong> of\n  4" in html and "(<strong>50 %</strong>)" in html
    assert '<td class="n">67 %</td>' in html  # follow-ups: 2 of 3
    charts_ = svgs(html)
    assert len(charts_) == 6
    ns = "{http://www.w3.org/2000/svg}"
    for svg in charts_:
        assert svg.find(f"{ns}title").text and svg.find(f"{ns}desc").text
    assert "67 %" in charts_[1].find(f"{ns}desc").text


def test_the_admin_index_links_to_it(viewer, db):
    assert f'href="{URL}"' in viewer.get("/admin/").content.decode()


def test_no_data_says_so_instead_of_an_empty_chart(viewer, db):
    html = viewer.get(URL).content.decode()
    assert html.count("Nothing in this period.") == 6
    assert 'class="chart"' not in html


def test_a_user_who_is_not_staff_cannot_see_it(client, db, known):
    client.force_login(User.objects.create_user("someone"))
    response = client.get(URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_staff_without_the_view_permission_cannot_see_it(client, db):
    client.force_login(User.objects.create_user("clerk", is_staff=True))
    assert client.get(URL).status_code == 403


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"period": "custom", "start": "2026-11-20", "end": "2026-11-10"}, "after the last"),
        ({"period": "custom", "start": "2024-01-01", "end": "2026-11-10"}, "at most 366 days"),
        ({"period": "custom", "start": "2026-11-01", "end": "2026-12-10"}, "after today"),
        ({"period": "custom", "start": "yesterday"}, "Enter a valid date"),
        ({"period": "custom", "start": "2026-11-01\x00"}, "Enter a valid date"),
        ({"period": "custom"}, "Give the first day"),
        ({"period": "365"}, "Select a valid choice"),
    ],
)
def test_a_bad_period_is_a_clear_error(viewer, db, query, error):
    response = viewer.get(URL, query)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert 'class="chart"' not in response.content.decode()


def test_a_custom_period(viewer, known):
    response = viewer.get(URL, {"period": "custom", "start": "2026-11-16", "end": "2026-11-16"})
    assert response.status_code == 200
    assert "<strong>3</strong> sends" in response.content.decode()


def test_a_chart_escapes_its_labels_and_stays_well_formed():
    svg = charts.bar_chart(
        "x", "<b>&", "a \"desc\" <i>", ["<a>", "b&c"],
        [charts.Series("s<1>", [1, None]), charts.Series("s2", [2.5, 0])],
    )  # fmt: skip
    root = ET.fromstring(svg)
    assert root.find("{http://www.w3.org/2000/svg}title").text == "<b>&"
    assert charts.bar_chart("x", "t", "d", ["a"], [charts.Series("s", [None])]) is None


def test_nice_steps():
    assert [charts.nice_step(top) for top in (1, 7, 100, 2300)] == [0.2, 2, 20, 500]


def test_the_migration_fills_in_the_answers_of_earlier_sends(make_prospect):
    """Sends recorded before answered_at was kept get it from the messages."""
    from django.apps import apps
    from django.db.models import F

    from followups.models import Message

    migration = importlib.import_module("followups.migrations.0006_meeting_place")
    client = make_prospect()
    first = sent(client, "2026-11-16 02:00")
    second = sent(client, "2026-11-16 06:00")
    late = sent(client, "2026-11-10 02:00")
    for when in ("2026-11-16 01:00", "2026-11-16 05:00", "2026-11-16 07:00"):
        Message.objects.create(prospect=client, direction="in", text="да", sent_at=at(when))
    ScheduledAction.objects.update(answered_at=None)
    migration.answered_before(apps, None)
    answered = dict(ScheduledAction.objects.values_list("pk", F("answered_at")))
    assert answered == {
        first.pk: at("2026-11-16 05:00"),
        second.pk: at("2026-11-16 07:00"),
        late.pk: None,
    }
