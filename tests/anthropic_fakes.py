"""Claude at its HTTP boundary: the real Anthropic SDK over an httpx2.MockTransport that answers
with real-shaped Messages API responses, scripted per test."""

import json
from collections.abc import Callable
from itertools import count

import anthropic
import httpx2

_ids = count(1)

Script = Callable[[dict], httpx2.Response]


def message(content: list[dict], stop_reason: str) -> httpx2.Response:
    return httpx2.Response(
        200,
        json={
            "id": f"msg_{next(_ids)}",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": 100, "output_tokens": 20},
        },
    )


def tool_use(name: str, tool_input: dict, text: str = "") -> httpx2.Response:
    content = [{"type": "text", "text": text}] if text else []
    content.append(
        {"type": "tool_use", "id": f"toolu_{next(_ids)}", "name": name, "input": tool_input}
    )
    return message(content, "tool_use")


def tool_uses(*calls: tuple[str, dict]) -> httpx2.Response:
    content = [
        {"type": "tool_use", "id": f"toolu_{next(_ids)}", "name": name, "input": tool_input}
        for name, tool_input in calls
    ]
    return message(content, "tool_use")


def end_turn(text: str) -> httpx2.Response:
    return message([{"type": "text", "text": text}], "end_turn")


def last_tool_results(body: dict) -> list[dict]:
    """The tool results the SDK sent back in this request, decoded."""
    last = body["messages"][-1]
    assert last["role"] == "user"
    return [
        {**block, "content": json.loads(block["content"])}
        for block in last["content"]
        if block.get("type") == "tool_result"
    ]


class FakeClaude:
    """Answers each Messages API request with the next step of a script. A step is a response,
    an exception to raise (network trouble), or a function of the request body."""

    def __init__(self, *steps):
        self.steps = list(steps)
        self.requests: list[dict] = []

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        if not self.steps:
            raise AssertionError("Claude was called more often than the test scripted")
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        return step(body) if callable(step) else step

    def client(self) -> anthropic.Anthropic:
        return anthropic.Anthropic(
            api_key="test-key",
            max_retries=0,
            http_client=httpx2.Client(transport=httpx2.MockTransport(self.handler)),
        )
