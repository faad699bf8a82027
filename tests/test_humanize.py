from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from followups.texts import describe_when

BALI = ZoneInfo("Asia/Makassar")
NOW = datetime(2026, 11, 26, 15, 0, tzinfo=BALI)  # a Thursday


@pytest.mark.parametrize(
    ("when", "language", "text"),
    [
        (datetime(2026, 11, 26, 17, 0), "ru", "сегодня в 17:00"),
        (datetime(2026, 11, 27, 10, 0), "ru", "завтра в 10:00"),
        (datetime(2026, 11, 28, 14, 0), "ru", "послезавтра в 14:00"),
        (datetime(2026, 11, 29, 10, 0), "ru", "в воскресенье, 29 ноября, в 10:00"),
        (datetime(2026, 12, 1, 10, 0), "ru", "во вторник, 1 декабря, в 10:00"),
        (datetime(2026, 12, 10, 10, 0), "ru", "10 декабря в 10:00"),
        (datetime(2027, 1, 5, 10, 0), "ru", "5 января 2027 в 10:00"),
        (datetime(2026, 11, 27, 10, 0), "en", "tomorrow at 10:00"),
        (datetime(2026, 11, 28, 14, 0), "en", "on Saturday, 28 November, at 14:00"),
        (datetime(2027, 1, 5, 10, 0), "en-GB", "on 5 January 2027 at 10:00"),
        (datetime(2026, 11, 27, 10, 0), "", "завтра в 10:00"),
    ],
)
def test_describe_when(when, language, text):
    assert describe_when(when.replace(tzinfo=BALI), NOW, BALI, language) == text


def test_in_the_clients_zone():
    moscow = ZoneInfo("Europe/Moscow")  # 5 hours behind Bali: 01:00 in Bali is 20:00 there
    when = datetime(2026, 11, 27, 1, 0, tzinfo=BALI)
    assert describe_when(when, NOW, moscow, "ru") == "сегодня в 20:00"


def test_english_weekdays_match_the_resolvers():
    """texts writes the names out so that workers need not load the resolver (see texts.py)."""
    from followups import texts
    from followups.timeresolver.fields import WEEKDAYS

    assert tuple(day.capitalize() for day in WEEKDAYS) == texts._EN_WEEKDAYS
