"""A fake for every platform at once that refuses every call and echoes the call back in its
error, in each vendor's error shape, as a misconfigured proxy or a chatty API would: the
method, the path and query, every header and the body. Whatever the gateway does with those
errors (logs, timeline, delivery errors, send-test lines) then holds any secret it sent.

Serve ``app``, then give each platform ``{url}/{prefix}`` as its base URL; the first path
segment picks the vendor's shape. An SMTP server that answers AUTH with the same echo is
``smtp_echo``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from aiohttp import web

Shape = Callable[[str], web.Response]


def _json(status: int, doc: object) -> web.Response:
    return web.json_response(doc, status=status)


SHAPES: dict[str, Shape] = {
    "slack": lambda e: _json(200, {"ok": False, "error": e}),
    "telegram": lambda e: _json(400, {"ok": False, "error_code": 400, "description": e}),
    "lark": lambda e: _json(400, {"code": 99999, "msg": e}),
    "wecom": lambda e: _json(200, {"errcode": 60011, "errmsg": e}),
    "zoom": lambda e: _json(400, {"code": 300, "message": e}),
    "zoomauth": lambda e: _json(401, {"reason": e, "error": "invalid_client"}),
    "teams": lambda e: _json(400, {"error": {"code": "BadArgument", "message": e}}),
    "aad": lambda e: _json(401, {"error": "invalid_client", "error_description": e}),
    "dingtalk": lambda e: _json(400, {"code": "InvalidParameter", "message": e, "requestid": "1"}),
    "twilio": lambda e: _json(400, {"code": 21211, "message": e, "more_info": e, "status": 400}),
    "slackbot": lambda e: web.Response(status=404, text=e),
    "dingtalkbot": lambda e: _json(200, {"errcode": 310000, "errmsg": e}),
    "wecombot": lambda e: _json(200, {"errcode": 93000, "errmsg": e}),
    "larkbot": lambda e: _json(200, {"code": 19001, "msg": e}),
    "zoombot": lambda e: _json(400, {"code": 300, "message": e}),
    "telegrambot": lambda e: _json(400, {"ok": False, "error_code": 400, "description": e}),
    "sms": lambda e: web.Response(status=400, text=e),
    "webhook": lambda e: web.Response(status=502, text=f"<html><h1>502 Bad Gateway</h1>{e}</html>"),
}


class EchoFake:
    """Refuses everything, in the shape of the platform its path names, echoing the call."""

    def __init__(self) -> None:
        self.url = ""
        self.calls: list[str] = []
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._answer)

    async def _answer(self, request: web.Request) -> web.Response:
        body = await request.read()
        echo = " ".join(
            (
                request.method,
                request.path_qs,
                json.dumps(dict(request.headers)),
                body.decode(errors="replace")[:4000],
            )
        )
        self.calls.append(echo)
        prefix = request.path.strip("/").split("/", 1)[0]
        return SHAPES.get(prefix, SHAPES["webhook"])(echo)


async def smtp_echo(reply: list[str]) -> asyncio.Server:
    """An SMTP server on 127.0.0.1 that offers AUTH and refuses it, echoing the command."""

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 echo ESMTP\r\n")
        while line := await reader.readline():
            command = line.decode(errors="replace").strip()
            reply.append(command)
            verb = command.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                writer.write(b"250-echo\r\n250 AUTH PLAIN LOGIN\r\n")
            elif verb == "AUTH":
                writer.write(f"535 5.7.8 refused: {command}\r\n".encode())
            elif verb == "QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(f"502 5.5.2 not here: {command}\r\n".encode())
            await writer.drain()
        writer.close()

    return await asyncio.start_server(session, "127.0.0.1", 0)
