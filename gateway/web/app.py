"""The app factory: wires settings, storage, background workers and routes into one app."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from gateway.background import background
from gateway.clock import Clock, SystemClock
from gateway.config import Settings
from gateway.errors import ActionRefused, InboundError
from gateway.links import LinkSigner
from gateway.logsetup import request_id
from gateway.masking import remember
from gateway.metrics import Metrics
from gateway.runtime import Runtime
from gateway.web import api, pages, schedules
from gateway.web.keys import RUNTIME, SIGNER
from storage import migrate, repo
from storage.engine import Database

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# How a refusal's code maps to an HTTP status for REST callers (chat platforms get 200).
REFUSAL_STATUS = {
    "invalid_transition": 409,
    "no_next_step": 409,
    "bad_args": 422,
    "unknown_member": 422,
    "unknown_user": 403,
    "not_allowed": 403,
}


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status)


@web.middleware
async def boundary(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one error boundary: our errors become clear 4xx, nothing unexpected becomes a 500
    without being logged once, and every request carries an id."""
    rid = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex[:16]
    token = request_id.set(rid)
    started = time.perf_counter()
    route = request.match_info.route.resource
    route_name = route.canonical if route is not None else "unmatched"
    try:
        response = await _guarded(request, handler)
    finally:
        request_id.reset(token)
        rt = request.app[RUNTIME]
        rt.metrics.request_seconds.labels(route_name, request.method).observe(
            time.perf_counter() - started
        )
    response.headers["X-Request-Id"] = rid
    return response


async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except InboundError as exc:
        return _error(exc.status, exc.message)
    except ActionRefused as exc:
        return web.json_response(
            {"error": exc.message, "code": exc.code, "status": REFUSAL_STATUS.get(exc.code, 409)},
            status=REFUSAL_STATUS.get(exc.code, 409),
        )
    except web.HTTPRequestEntityTooLarge as exc:
        return _error(413, f"the body is larger than {exc.text or 'the configured limit'}")
    except web.HTTPException:
        raise
    # Input the readers take (json.loads, aiohttp's forms) but nothing after them can use:
    # wherever it is read, in the core or an adapter, it is bad input, not a crash.
    except RecursionError:  # one level of recursion per level of nesting: "[[[[…"
        return _error(400, "the body is nested too deeply to read")
    except UnicodeEncodeError:  # "\ud800": half a UTF-16 pair, which no text can hold
        return _error(400, "the body holds a lone surrogate (\\ud800-\\udfff), not text")
    except UnicodeDecodeError:  # a form body that is not UTF-8
        return _error(400, "the body is not UTF-8 text")
    except SQLAlchemyError:
        # Storage is down or locked: say so, so senders (Alertmanager) retry; nothing was kept.
        log.exception("storage error while handling %s %s", request.method, request.path)
        return _error(503, "storage unavailable, retry later")


def create_app(
    settings: Settings, *, clock: Clock | None = None, workers: bool = True
) -> web.Application:
    """A ready-to-run application. ``workers=False`` leaves the outbox and timers to the caller
    (tests drive them by hand)."""
    remember(settings)  # what a platform echoes back is masked in every error from now on
    app = web.Application(
        client_max_size=settings.server.max_body_kb * 1024, middlewares=[boundary]
    )
    db = Database(settings.database.url, settings.database.pool_size, settings.database.schema_name)
    rt = Runtime(settings=settings, db=db, clock=clock or SystemClock(), metrics=Metrics())
    app[RUNTIME] = rt
    app[SIGNER] = LinkSigner(settings.server.secret_key.get_secret_value())
    app.cleanup_ctx.append(_storage)
    if workers:
        app.cleanup_ctx.append(_workers)
    api.add_routes(app)
    schedules.add_routes(app)
    pages.add_routes(app)
    from adapters.registry import add_routes as add_platform_routes  # noqa: PLC0415 - lazy

    add_platform_routes(app, settings)
    return app


async def _storage(app: web.Application) -> AsyncIterator[None]:
    rt = app[RUNTIME]
    await migrate.upgrade(rt.db.url, rt.db.schema)
    await sync_members(rt)
    yield
    await rt.close()
    await rt.db.dispose()


async def sync_members(rt: Runtime) -> None:
    """Mirror configured members and their chat identities into the database."""
    members = [
        {
            "name": name,
            "display_name": m.name,
            "email": m.email,
            "phone": m.phone,
            "timezone": m.timezone,
        }
        for name, m in rt.settings.members.items()
    ]
    identities = [
        {
            "platform": i.platform,
            "workspace": i.workspace,
            "platform_user_id": i.user_id,
            "member": name,
        }
        for name, m in rt.settings.members.items()
        for i in m.identities
    ]
    async with rt.db.write() as conn:
        await repo.sync_members(conn, members, identities, rt.clock.now())


async def _workers(app: web.Application) -> AsyncIterator[None]:
    rt = app[RUNTIME]
    async with background(rt) as dispatcher:
        rt.wake_outbox = dispatcher.wake
        yield
