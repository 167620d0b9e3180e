"""``ackgate telegram chats``: the chats the bot has seen lately, to find a group's chat id."""

from __future__ import annotations

import aiohttp
from telegram import Chat

from adapters.telegram.errors import call
from adapters.telegram.transport import make_bot
from gateway.config import TelegramSettings

CALL_TIMEOUT_S = 10.0


async def list_chats(settings: TelegramSettings) -> list[str]:
    """One line per chat in the updates Telegram still holds: ``<id>  <type>  <title>``.

    getUpdates is called once without ``offset``, so nothing is marked read and the gateway
    (in polling mode) still gets every update. Telegram refuses getUpdates while a webhook is
    set; that comes out as a Rejected error that says so. Raises PlatformError.
    """
    async with aiohttp.ClientSession() as session:
        bot = make_bot(
            settings.bot_token, str(settings.api_base_url), session, timeout_s=CALL_TIMEOUT_S
        )
        updates = await call(bot.get_updates(timeout=0))
    seen: dict[int, Chat] = {}
    for update in updates:
        chat = update.effective_chat
        if chat is not None and chat.id not in seen:
            seen[chat.id] = chat
    return [_line(chat) for chat in seen.values()]


def _line(chat: Chat) -> str:
    name = chat.title or " ".join(p for p in (chat.first_name, chat.last_name) if p)
    if chat.username:
        name = f"{name} (@{chat.username})" if name else f"@{chat.username}"
    return f"{chat.id}\t{chat.type}\t{name}".rstrip()
