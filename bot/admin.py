from django.contrib import admin

from bot.models import ToolCall
from followups.admin import AccountScoped, ReadOnly, RecordTimes, json_block


@admin.register(ToolCall)
class ToolCallAdmin(AccountScoped, RecordTimes, ReadOnly, admin.ModelAdmin):
    """What the agent asked its tools for, and what came of it (refusals say why)."""

    list_display = ("created", "prospect", "tool", "outcome", "agent", "summary")
    list_filter = ("outcome", "tool", "agent")
    search_fields = ("prospect__display_name", "prospect__username", "=prospect__telegram_id")
    list_select_related = ("prospect__account",)
    fields = ("created", "prospect", "tool", "agent", "outcome", "input_pretty", "result_pretty")
    readonly_fields = fields

    @admin.display(description="result")
    def summary(self, obj):
        return obj.result.get("error") or obj.result.get("client_text") or obj.result.get("status")

    @admin.display(description="input")
    def input_pretty(self, obj):
        return json_block(obj.tool_input)

    @admin.display(description="result")
    def result_pretty(self, obj):
        return json_block(obj.result)
