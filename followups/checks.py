"""System checks of how follow-ups are sent. Every manage.py command runs them before it starts
(`rundramatiq` included: its workers never begin); `runbot --dry-run` reports them.

A follow-up "sent" by the in-memory messenger reaches no one yet is recorded as executed, so
outside tests, the demo and DEBUG it is an error, as is a messenger or writer that is unset or
cannot be imported.
"""

from django.conf import settings
from django.core.checks import Error
from django.utils.module_loading import import_string

from followups.messenger import InMemoryMessenger

TELEGRAM_MESSENGER = "bot.telegram.TelethonMessenger"


def check_messenger(app_configs=None, **kwargs) -> list[Error]:
    path = settings.FOLLOWUPS_MESSENGER
    hint = f"Set FOLLOWUPS_MESSENGER={TELEGRAM_MESSENGER} to send through Telegram."
    if not path:
        return [Error("FOLLOWUPS_MESSENGER is not set.", hint=hint, id="followups.E001")]
    try:
        messenger = import_string(path)
    except ImportError as exc:
        return [Error(f"FOLLOWUPS_MESSENGER: {exc}", hint=hint, id="followups.E002")]
    in_memory = isinstance(messenger, type) and issubclass(messenger, InMemoryMessenger)
    if in_memory and not (settings.DEBUG or settings.FOLLOWUPS_ALLOW_IN_MEMORY_MESSENGER):
        return [
            Error(
                f"FOLLOWUPS_MESSENGER is {path}: follow-ups would reach no one and be recorded "
                "as executed. It is for tests, the demo and DJANGO_DEBUG=true.",
                hint=hint,
                id="followups.E003",
            )
        ]
    return []


def check_follow_up_writer(app_configs=None, **kwargs) -> list[Error]:
    try:
        import_string(settings.FOLLOWUPS_FOLLOWUP_WRITER)
    except ImportError as exc:
        return [
            Error(
                f"FOLLOWUPS_FOLLOWUP_WRITER: {exc}",
                hint="Claude's writer is bot.conversation.write_follow_up, the plain one "
                "followups.delivery.plain_follow_up.",
                id="followups.E004",
            )
        ]
    return []
