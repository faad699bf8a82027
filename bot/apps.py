from django.apps import AppConfig


class BotConfig(AppConfig):
    name = "bot"
    verbose_name = "Agent"

    def ready(self) -> None:
        from followups.roles import also_view

        # Staff see what the agent asked its tools for (bot.admin.ToolCallAdmin).
        also_view("bot", "toolcall")
