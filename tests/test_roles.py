"""The staff groups' permissions after migrate: bot's ToolCall is viewable through bot's own
registration (followups.roles.also_view), and the sets are exactly these."""

from django.contrib.auth.models import Group

from followups.roles import HEAD_OF_SALES, OPERATORS, VIEWERS

VIEW = {
    "followups.view_prospect",
    "followups.view_meeting",
    "followups.view_scheduledaction",
    "followups.view_message",
    "followups.view_optoutchange",
    "followups.view_account",
    "bot.view_toolcall",
}
CHANGE = {
    "followups.change_prospect",
    "followups.change_meeting",
    "followups.add_meeting",
    "followups.change_scheduledaction",
}


def permissions_of(name: str) -> set[str]:
    group = Group.objects.get(name=name)
    return {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }


def test_staff_groups_have_exactly_their_permissions_after_migrate(db):
    assert permissions_of(VIEWERS) == VIEW
    assert permissions_of(OPERATORS) == VIEW | CHANGE
    assert permissions_of(HEAD_OF_SALES) == VIEW | CHANGE | {"followups.change_account"}
