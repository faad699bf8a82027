from django.db import models

from followups.models import Prospect


class ToolCall(models.Model):
    """Every tool call the agent made, with what came of it: staff see what the model asked
    for and why a request was refused."""

    class Outcome(models.TextChoices):
        OK = "ok"
        REFUSED = "refused", "refused (bad input)"
        NEEDS_CLIENT = "needs_client", "needs the client (time ambiguous, past or missing)"

    prospect = models.ForeignKey(Prospect, on_delete=models.CASCADE, related_name="tool_calls")
    tool = models.CharField(max_length=64)
    tool_input = models.JSONField(default=dict)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    result = models.JSONField(default=dict)
    agent = models.CharField(max_length=16)  # "claude" or "fallback"
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["prospect", "created_at"])]

    def __str__(self) -> str:
        return f"{self.tool} → {self.outcome}"
