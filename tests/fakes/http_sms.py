"""A fake HTTP SMS gateway: records every request and answers ``{"Code": "OK"}`` or an error."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDictProxy, MultiMapping

PATH = "/sms/send"


@dataclass(frozen=True)
class Received:
    """One request as the gateway saw it."""

    method: str
    query: MultiMapping[str]
    headers: CIMultiDictProxy[str]
    body: bytes


@dataclass(frozen=True)
class Answer:
    """A scripted answer: ``body`` is JSON-encoded unless it is a str."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeHttpSms:
    """Serve ``app`` and send to ``PATH`` (any method); set ``url`` to it.

    Answers come from ``script(...)`` in order, then ``{"Code": "OK", "BizId": …}``.
    """

    def __init__(self) -> None:
        self.url = ""
        self.received: list[Received] = []
        self._script: deque[Answer] = deque()
        self.app = web.Application()
        self.app.router.add_route("*", PATH, self._handle)

    def script(self, *answers: Answer) -> None:
        """Answer the next requests with these."""
        self._script.extend(answers)

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append(
            Received(request.method, request.query, request.headers, await request.read())
        )
        answer = self._script.popleft() if self._script else None
        if answer is None:
            body = {"Code": "OK", "Message": "OK", "BizId": f"900{len(self.received)}^0"}
            return web.json_response(body)
        if isinstance(answer.body, str):
            return web.Response(status=answer.status, text=answer.body, headers=answer.headers)
        return web.json_response(answer.body, status=answer.status, headers=answer.headers)
