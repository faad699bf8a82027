"""Staff isolation (docs/design.md, "Accounts and staff"): a manager sees and acts on only their
accounts' clients; the head of sales sees all. Per role and per URL, through Django's test client
against the real DB."""

from datetime import datetime, timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, Permission, User
from django.db.models import Sum
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bot.models import ToolCall
from followups import access, outcomes, services
from followups.models import (
    Account,
    ActionStatus,
    ActionType,
    Meeting,
    Message,
    OptOutChange,
    OutcomeCount,
    Prospect,
    ScheduledAction,
)
from followups.roles import HEAD_OF_SALES, OPERATORS, VIEWERS
from tests.test_admin import staff
from tests.test_outcomes import sent

SECRET = b"SESSION-SECRET-1BVtsOKkBu2"


def sight(prospect_name: str, account: Account, make_prospect) -> dict:
    """A client of `account` with one of everything staff see: an action, a meeting, a
    message, a tool call and an opt-out change (set and lifted, so actions stay pending)."""
    prospect = make_prospect(display_name=prospect_name, account=account)
    services.opt_out(prospect, by="client", words="stop")
    services.lift_opt_out(prospect, by="staff (x)", words="phoned back")
    soon = timezone.now() + timedelta(days=2)
    return {
        "prospect": prospect,
        "action": services.schedule_action(prospect, ActionType.FOLLOW_UP, soon),
        "meeting": services.book_meeting(prospect, soon + timedelta(days=1), title="viewing"),
        "message": Message.objects.create(
            prospect=prospect, direction="in", text=f"hello from {prospect_name}", sent_at=soon
        ),
        "toolcall": ToolCall.objects.create(
            prospect=prospect, tool="book_meeting", outcome="ok", agent="claude"
        ),
    }


@pytest.fixture
def villas(db):
    a = Account.objects.create(name="villa-a", telegram_username="villa_a_mgr", session=SECRET)
    return a, Account.objects.create(name="villa-b", telegram_username="villa_b_mgr")


@pytest.fixture
def rows(villas, make_prospect):
    return sight("Alice-A", villas[0], make_prospect), sight("Bob-B", villas[1], make_prospect)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def manager_a(villas):
    return logged_in(staff("manager-a", OPERATORS, [villas[0]]))


@pytest.fixture
def viewer_a(villas):
    return logged_in(staff("viewer-a", VIEWERS, [villas[0]]))


@pytest.fixture
def head(villas):
    return logged_in(staff("head", HEAD_OF_SALES, []))


def object_urls(sight: dict) -> list[str]:
    """Every admin page of one client's objects (GET), custom views included."""
    action, prospect = sight["action"].pk, sight["prospect"].pk
    return [
        reverse("admin:followups_prospect_change", args=[prospect]),
        reverse("admin:followups_prospect_history", args=[prospect]),
        reverse("admin:followups_prospect_lift_opt_out", args=[prospect]),
        reverse("admin:followups_scheduledaction_change", args=[action]),
        reverse("admin:followups_scheduledaction_history", args=[action]),
        reverse("admin:followups_scheduledaction_cancel", args=[action]),
        reverse("admin:followups_scheduledaction_send_now", args=[action]),
        reverse("admin:followups_meeting_change", args=[sight["meeting"].pk]),
        reverse("admin:followups_message_change", args=[sight["message"].pk]),
        reverse("admin:bot_toolcall_change", args=[sight["toolcall"].pk]),
        reverse("admin:followups_account_change", args=[sight["prospect"].account_id]),
    ]


CHANGELISTS = [
    reverse(f"admin:{name}_changelist")
    for name in (
        "followups_prospect", "followups_scheduledaction", "followups_meeting",
        "followups_message", "bot_toolcall", "followups_account",
    )
]  # fmt: skip


def test_a_manager_gets_404_on_every_page_of_another_accounts_objects(manager_a, rows):
    own, other = rows
    for url in object_urls(other):
        assert manager_a.get(url).status_code == 404, url
        # The buttons too; 403 where a manager may change no such row at all (a message, a
        # tool call, an account), refused before any lookup, so it says nothing of the row.
        assert manager_a.post(url).status_code in (403, 404), url
    manager = User.objects.get(username="manager-a")
    for perm in ("followups.change_message", "bot.change_toolcall", "followups.change_account"):
        assert not manager.has_perm(perm)
    for url in object_urls(own):
        assert manager_a.get(url).status_code in (200, 302), url  # lift: not opted out → back


def test_the_head_of_sales_opens_every_accounts_pages(head, rows):
    for sight_ in rows:
        for url in object_urls(sight_):
            assert head.get(url).status_code in (200, 302), url


def test_a_managers_lists_show_only_their_accounts_rows(manager_a, head, rows):
    for url in CHANGELISTS:
        page = manager_a.get(url).content.decode()
        assert "Alice-A" in page or "villa-a" in page, url
        assert "Bob-B" not in page and "villa-b" not in page, url
        head_page = head.get(url).content.decode()
        assert ("Bob-B" in head_page or "villa-b" in head_page) and "villa-a" in head_page, url


def test_the_account_column_and_filter_only_for_who_sees_more_than_one(manager_a, head, rows):
    for url in CHANGELISTS[:2]:
        assert "column-account" not in manager_a.get(url).content.decode()
        page = head.get(url).content.decode()
        assert "column-account" in page and "By account" in page
    filtered = f"{CHANGELISTS[1]}?prospect__account__id__exact={rows[1]['prospect'].account_id}"
    page = head.get(filtered).content.decode()
    assert "Bob-B" in page and "Alice-A" not in page
    # The same filter, for a manager of the other account: still nothing of it.
    assert "Bob-B" not in manager_a.get(filtered).content.decode()


def test_forged_bulk_posts_with_another_accounts_ids_change_nothing(manager_a, rows):
    own, other = rows
    changelist = CHANGELISTS[1]
    manager_a.post(
        changelist,
        {"action": "cancel_selected", "_selected_action": [own["action"].pk, other["action"].pk]},
    )
    manager_a.post(
        reverse("admin:followups_scheduledaction_send_now_many"), {"ids": other["action"].pk}
    )
    manager_a.post(
        reverse("admin:followups_scheduledaction_reschedule"),
        {"ids": other["action"].pk, "new_time": "2026-11-25 10:00", "zone": "UTC"},
    )
    manager_a.post(
        CHANGELISTS[0], {"action": "opt_out_selected", "_selected_action": other["prospect"].pk}
    )
    manager_a.post(
        CHANGELISTS[2], {"action": "cancel_selected", "_selected_action": other["meeting"].pk}
    )
    theirs = ScheduledAction.objects.get(pk=other["action"].pk)
    assert (theirs.status, theirs.enqueued_at, theirs.scheduled_for) == (
        ActionStatus.PENDING, None, other["action"].scheduled_for,
    )  # fmt: skip
    assert ScheduledAction.objects.get(pk=own["action"].pk).status == ActionStatus.CANCELLED
    assert Prospect.objects.get(pk=other["prospect"].pk).opted_out_at is None
    assert Meeting.objects.get(pk=other["meeting"].pk).status == Meeting.Status.BOOKED


def test_a_meeting_cannot_be_booked_for_another_accounts_client(manager_a, rows):
    add = reverse("admin:followups_meeting_add")
    assert "Bob-B" not in manager_a.get(add).content.decode()
    response = manager_a.post(
        add,
        {"prospect": rows[1]["prospect"].pk, "starts_at": "2026-11-25 10:00", "zone": "client"},
    )
    assert "Select a valid choice" in response.content.decode()
    assert not Meeting.objects.filter(prospect=rows[1]["prospect"]).exclude(
        pk=rows[1]["meeting"].pk
    )


@pytest.mark.parametrize(("who", "found"), [("manager_a", []), ("head", ["Bob-B"])])
def test_the_prospect_lookups_do_not_leak(request, rows, who, found):
    client = request.getfixturevalue(who)
    response = client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "followups",
            "model_name": "meeting",
            "field_name": "prospect",
            "term": "Bob",
        },
    )
    assert [r["text"].split(" (")[0] for r in response.json()["results"]] == found
    popup = client.get(CHANGELISTS[0], {"_popup": "1", "_to_field": "id", "q": "Bob"})
    assert ("Bob-B" in popup.content.decode()) == bool(found)


def test_a_viewer_of_an_account_changes_nothing(viewer_a, rows, villas):
    own = rows[0]
    for url in object_urls(own)[5:7]:  # cancel, send now
        assert viewer_a.post(url).status_code == 403
    viewer_a.post(
        CHANGELISTS[1], {"action": "cancel_selected", "_selected_action": own["action"].pk}
    )
    assert ScheduledAction.objects.get(pk=own["action"].pk).status == ActionStatus.PENDING
    account = reverse("admin:followups_account_change", args=[villas[0].pk])
    assert 'name="staff"' not in viewer_a.get(account).content.decode()
    assert viewer_a.post(account, {"staff": []}).status_code == 403
    assert villas[0].staff.filter(username="viewer-a").exists()


def test_the_outcomes_count_only_the_accounts_a_manager_sees(villas, manager_a, head, rows):
    a, b = (sight_["prospect"] for sight_ in rows)
    for prospect, n in ((a, 2), (b, 3)):
        for _ in range(n):
            sent(prospect, "2026-11-16 02:00")
    url = reverse("outcomes")
    assert "<strong>2</strong> sends" in manager_a.get(url, {"period": "7"}).content.decode()
    # One account: no choice to make, and a forged one is not a way into another's numbers.
    page = manager_a.get(url, {"period": "7", "account": "villa-b"}).content.decode()
    assert "<strong>2</strong> sends" in page and "villa-b" not in page
    assert "<strong>5</strong> sends" in head.get(url, {"period": "7"}).content.decode()
    page = head.get(url, {"period": "7", "account": "villa-b"}).content.decode()
    assert "<strong>3</strong> sends" in page
    assert head.get(url, {"period": "7", "account": "nope"}).status_code == 400
    both = logged_in(staff("manager-ab", VIEWERS, villas))
    assert "<strong>5</strong> sends" in both.get(url, {"period": "7"}).content.decode()
    page = both.get(url, {"period": "7", "account": "villa-a"}).content.decode()
    assert "<strong>2</strong> sends" in page


def test_the_outcomes_summary_keeps_each_accounts_counts(villas, manager_a, head, rows):
    """Closed days come from the summary (it outlives the actions): a manager's page and the
    head of sales' per-account filter count there only the chosen accounts' rows too."""
    a, b = (sight_["prospect"] for sight_ in rows)
    for prospect, closed, open_ in ((a, 2, 1), (b, 3, 1)):
        for _ in range(closed):
            sent(prospect, "2026-11-13 02:00")  # closed by the clock's 18 Nov
        for _ in range(open_):
            sent(prospect, "2026-11-17 02:00")  # open: counted live
    ScheduledAction.objects.create(
        prospect=b, action_type=ActionType.FOLLOW_UP, status=ActionStatus.FAILED,
        scheduled_for=timezone.make_aware(datetime(2026, 11, 14, 9)),
    )  # fmt: skip
    assert outcomes.roll_up() == 3  # 13–15 Nov: from the first action kept to the last closed
    summary = OutcomeCount.objects.filter(hour=outcomes.ALL, status=ActionStatus.EXECUTED)
    assert dict(summary.values_list("account__name").annotate(Sum("actions"))) == {
        "villa-a": 2,
        "villa-b": 3,
    }
    ScheduledAction.objects.filter(scheduled_for__lt=timezone.now() - timedelta(days=3)).delete()
    url = reverse("outcomes")
    sends = {  # (client, account chosen) → the page's sends
        (manager_a, ""): 3, (manager_a, "villa-b"): 3,  # a forged choice: still only its own
        (head, ""): 7, (head, "villa-a"): 3, (head, "villa-b"): 4,
    }  # fmt: skip
    for (client, account), n in sends.items():
        page = client.get(url, {"period": "7", "account": account}).content.decode()
        assert f"<strong>{n}</strong> sends" in page, (account, n)
    failed = outcomes.compute(outcomes.Period.last_days(7), [villas[1].pk])
    assert failed.missed_failed_per_day[ActionStatus.FAILED][2] == 1  # 14 Nov
    mine = outcomes.compute(outcomes.Period.last_days(7), access.visible_accounts(
        User.objects.get(username="manager-a")
    ))  # fmt: skip
    assert mine.sent == 3 and sum(mine.missed_failed_per_day[ActionStatus.FAILED]) == 0


def test_staff_linked_to_no_account_are_told_so(villas, rows):
    lost = logged_in(staff("new-manager", OPERATORS, []))
    for url in (reverse("admin:index"), CHANGELISTS[0], CHANGELISTS[1], reverse("outcomes")):
        page = lost.get(url).content.decode()
        assert "not linked to any Telegram account" in page, url
        assert "Alice-A" not in page and "Bob-B" not in page
    assert (
        "not linked"
        not in logged_in(staff("linked", OPERATORS, [villas[0]]))
        .get(reverse("admin:index"))
        .content.decode()
    )


def test_the_head_of_sales_links_staff_and_the_session_is_never_shown(head, villas, rows):
    a = villas[0]
    manager = staff("manager-b", OPERATORS, [])
    page = reverse("admin:followups_account_change", args=[a.pk])
    response = head.post(page, {"staff": [manager.pk]})
    assert response.status_code == 302
    assert list(a.staff.all()) == [manager]
    assert "Alice-A" in logged_in(manager).get(CHANGELISTS[0]).content.decode()
    entry = LogEntry.objects.get(object_id=str(a.pk))
    assert "session" not in entry.get_change_message().lower()
    shown = [
        head.get(url).content
        for url in (page, CHANGELISTS[5], reverse("admin:followups_account_history", args=[a.pk]))
    ]
    assert all(SECRET not in body and b"session" not in body.lower() for body in shown)
    assert b"villa_a_mgr" in shown[0] and b"villa_b_mgr" in shown[1]
    # Nor read back by bisection through the URL.
    for url, lookup in (
        (CHANGELISTS[5], "session__startswith"),
        (CHANGELISTS[5], "staff__password__startswith"),
        (CHANGELISTS[1], "prospect__account__session__startswith"),
    ):
        probe = head.get(url, {lookup: "S"})
        assert probe.status_code == 400 or "e=1" in probe.get("Location", ""), lookup


def test_access_scope_is_the_one_rule(villas, rows):
    a, b = villas
    manager = staff("m", VIEWERS, [a])
    head_user = staff("h", HEAD_OF_SALES, [])
    assert list(access.visible_accounts(manager)) == [a]
    assert set(access.visible_accounts(head_user)) == set(Account.objects.all()) > {a, b}
    root = User.objects.create_superuser("root", password="pw")
    assert access.sees_all(root) and not access.sees_all(manager)
    assert access.scope(Account.objects.all(), manager, "").get() == a
    for model, path in ((Prospect, "account"), (OptOutChange, "prospect__account")):
        seen = access.scope(model.objects.all(), manager, path)
        assert {row.pk for row in seen} == {
            row.pk for row in model.objects.all() if _account_of(row) == a
        }
        assert access.scope(model.objects.all(), head_user, path).count() == model.objects.count()


def _account_of(row) -> Account:
    return row.account if isinstance(row, Prospect) else row.prospect.account


def test_the_head_of_sales_has_the_operators_permissions_and_may_link_staff(db):
    head_perms = set(Group.objects.get(name=HEAD_OF_SALES).permissions.all())
    operators = set(Group.objects.get(name=OPERATORS).permissions.all())
    assert head_perms - operators == {Permission.objects.get(codename="change_account")}
    assert operators < head_perms
