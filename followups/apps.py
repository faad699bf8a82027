from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_migrate


class FollowupsConfig(AppConfig):
    name = "followups"
    verbose_name = "Follow-ups and reminders"

    def ready(self) -> None:
        from followups.checks import check_follow_up_writer, check_messenger
        from followups.roles import ensure_staff_groups

        checks.register(check_messenger)
        checks.register(check_follow_up_writer)

        # After every app: the groups take in permissions of apps migrated after this one.
        post_migrate.connect(ensure_staff_groups, dispatch_uid="followups-staff-groups")
