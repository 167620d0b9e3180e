"""Typed application state keys shared by the app factory and the route modules."""

from __future__ import annotations

from aiohttp import web

from gateway.links import LinkSigner
from gateway.runtime import Runtime

RUNTIME = web.AppKey("runtime", Runtime)
SIGNER = web.AppKey("signer", LinkSigner)
