"""The agent on Claude: the Messages API with tools, and a bounded tool loop.

tool_use → run the tools → tool_result → … → final text, at most MAX_ROUNDS model calls.
Any API trouble (no key, network, timeout, rate limit, 5xx, a malformed answer) raises
AgentUnavailable, and the conversation falls back to the rule-based agent.
"""

import functools
import json
import logging

import anthropic
from django.conf import settings

from bot.tool_schemas import TOOLS
from bot.tools import Turn, run_tool
from followups.cleaning import clean_json, clean_text

log = logging.getLogger(__name__)

MAX_ROUNDS = 5
MAX_TOKENS = 1024


class AgentUnavailable(Exception):
    """Claude could not answer; `reason` is short and has no secrets."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@functools.cache
def anthropic_client() -> anthropic.Anthropic:
    """One client per process. One SDK retry: a turn must not hang while the client waits."""
    return anthropic.Anthropic(
        api_key=settings.ANTHROPIC_API_KEY,
        timeout=settings.ANTHROPIC_TIMEOUT_S,
        max_retries=1,
    )


def _call(**kwargs):
    try:
        response = anthropic_client().messages.create(
            model=settings.ANTHROPIC_MODEL, max_tokens=MAX_TOKENS, **kwargs
        )
    except anthropic.APIError as exc:  # connection, timeout, status errors alike
        status = getattr(exc, "status_code", None)
        raise AgentUnavailable(f"{type(exc).__name__}" + (f" {status}" if status else "")) from exc
    # Cleaned on arrival (followups.cleaning): the text is stored, and the blocks go back in the
    # next round's request, which a lone surrogate would make impossible to encode.
    for block in response.content:
        if block.type == "text":
            block.text = clean_text(block.text)
        elif block.type == "tool_use":
            block.name, block.input = clean_text(block.name), clean_json(block.input)
    return response


def respond(turn: Turn, system: str, history: list[dict]) -> str:
    """The reply to the client's latest message, running the tools the model asks for."""
    messages = list(history)
    for _ in range(MAX_ROUNDS):
        response = _call(system=system, tools=TOOLS, messages=messages)
        if response.stop_reason != "tool_use":
            return _answer_text(response, f"empty answer (stop_reason {response.stop_reason})")
        messages.append({"role": "assistant", "content": response.content})
        results = []
        for block in response.content:
            if block.type != "tool_use":
                continue
            result = run_tool(block.name, block.input, turn)
            results.append(
                {
                    "type": "tool_result",
                    "tool_use_id": block.id,
                    "content": json.dumps(result.content, ensure_ascii=False),
                    "is_error": result.is_error,
                }
            )
        messages.append({"role": "user", "content": results})
    raise AgentUnavailable(f"no final answer after {MAX_ROUNDS} rounds of tools")


def write_follow_up(system: str, history: list[dict]) -> str:
    """A follow-up text written at send time from the conversation (no tools)."""
    if not settings.ANTHROPIC_API_KEY:
        raise AgentUnavailable("no ANTHROPIC_API_KEY")
    response = _call(system=system, messages=history)
    return _answer_text(response, "empty answer")


def _answer_text(response, empty_reason: str) -> str:
    """The answer's text blocks joined; AgentUnavailable(empty_reason) when there is none."""
    text = "".join(b.text for b in response.content if b.type == "text").strip()
    if not text:
        raise AgentUnavailable(empty_reason)
    return text
