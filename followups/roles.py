"""The staff roles, kept in step with the models' permissions after every migrate."""

from django.contrib.auth.models import Group, Permission

VIEWERS = "Follow-up viewers"
OPERATORS = "Follow-up operators"
# Sees every account's clients (followups.access); the others only their accounts'.
HEAD_OF_SALES = "Head of sales"
# Apps and models every staff group may view. Other apps add theirs with `also_view` (bot
# does, from its AppConfig.ready): followups names no app that depends on it.
APPS = ["followups"]
MODELS = ["prospect", "meeting", "scheduledaction", "message", "optoutchange", "account"]


def also_view(app_label: str, *models: str) -> None:
    """Let every staff group view these models of `app_label` (from the next migrate on)."""
    if app_label not in APPS:
        APPS.append(app_label)
    MODELS.extend(m for m in models if m not in MODELS)


def ensure_staff_groups(**kwargs) -> None:
    """Viewers may look at everything of their accounts; operators may also cancel,
    reschedule, send now, book and move meetings, lift an opt-out (the "change" permission);
    the head of sales may do what operators do, for every account, and link staff to accounts.
    Nobody deletes here."""
    perms = Permission.objects.filter(content_type__app_label__in=APPS)
    view = perms.filter(codename__in=[f"view_{m}" for m in MODELS])
    change = perms.filter(
        codename__in=["change_prospect", "change_meeting", "add_meeting", "change_scheduledaction"]
    )
    Group.objects.get_or_create(name=VIEWERS)[0].permissions.set(view)
    Group.objects.get_or_create(name=OPERATORS)[0].permissions.set([*view, *change])
    Group.objects.get_or_create(name=HEAD_OF_SALES)[0].permissions.set(
        [*view, *change, *perms.filter(codename="change_account")]
    )
