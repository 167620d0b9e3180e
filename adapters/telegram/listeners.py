"""python-telegram-bot handlers: buttons, ForceReply answers and text commands, each
translated into ``gateway`` calls and answered in the chat they came from."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from telegram import (
    CallbackQuery,
    ForceReply,
    Message,
    ReplyParameters,
    Update,
)
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from adapters.recent import Recent
from adapters.telegram.acting import TelegramActors, language
from adapters.telegram.conversation import (
    RECENT_UPDATES,
    Conversation,
    Reply,
    command_text,
    mistake_text,
)
from adapters.telegram.errors import call
from adapters.telegram.prompts import (
    PROMPT_VERBS,
    escalation,
    placeholder,
    prompt_html,
    read_prompt,
)
from adapters.telegram.sender import NO_PREVIEW, inline_markup
from cards import callback
from cards.model import clip
from cards.render.telegram import PARSE_MODE, escape
from gateway import messages
from gateway.commands import ALIASES, USAGE, CommandError
from gateway.domain import Verb
from gateway.errors import ActionRefused, MalformedPayload, NotFound, PlatformError

log = logging.getLogger(__name__)

ANSWER_MAX = 200  # answerCallbackQuery text: 0–200 characters
# Every word the command language knows, as a Telegram command; /start opens a private chat.
COMMANDS = frozenset({*USAGE, *ALIASES, "start"})
ALLOWED_UPDATES = ("message", "callback_query")

Context = ContextTypes.DEFAULT_TYPE
TelegramApp = Application[Any, Any, Any, Any, Any, Any]


class PromptReply(filters.MessageFilter):
    """A text message answering one of the bot's own Escalate/Comment prompts."""

    __slots__ = ()

    def filter(self, message: Message) -> bool:
        """Whether ``message`` replies to a prompt this bot sent."""
        prompt = message.reply_to_message
        if not message.text or prompt is None or prompt.from_user is None or not prompt.text:
            return False
        return prompt.from_user.id == message.get_bot().id and read_prompt(prompt.text) is not None


class TelegramListeners:
    """Everything the Application dispatches to; ``register`` attaches it."""

    def __init__(self, actors: TelegramActors) -> None:
        self.actors = actors
        self.conversation = Conversation(actors)
        self.recent: Recent[int] = Recent(RECENT_UPDATES)

    def register(self, application: TelegramApp) -> None:
        """Attach every handler to ``application``; within a group the first match wins."""
        application.add_handler(TypeHandler(Update, self.on_update), group=-1)
        new = filters.UpdateType.MESSAGE  # edited messages must not run a command again
        application.add_handler(CallbackQueryHandler(self.on_button))
        application.add_handler(MessageHandler(new & PromptReply(), self.on_prompt_reply))
        application.add_handler(CommandHandler(COMMANDS, self.on_text, filters=new))
        # In a private chat everything is for us: no slash needed, unknown commands answered.
        private = new & filters.ChatType.PRIVATE & filters.TEXT
        application.add_handler(MessageHandler(private, self.on_text))
        application.add_error_handler(self.on_error)

    async def on_update(self, update: Update, _context: Context) -> None:
        """Before anything else: an update seen already (Telegram retried it) stops here."""
        if not self.recent.claim(update.update_id):
            log.info("telegram update %s seen already, skipped", update.update_id)
            raise ApplicationHandlerStop

    # --- buttons and prompts ----------------------------------------------------------------

    async def on_button(self, update: Update, context: Context) -> None:
        """Acknowledge/Close/Reopen act at once; Escalate/Comment ask for a reply first."""
        query = update.callback_query
        if query is None:
            return
        user_id = str(query.from_user.id)
        lang = language(query.from_user.language_code)
        try:
            verb, number = callback.decode(query.data if isinstance(query.data, str) else "")
        except MalformedPayload:
            await _answer(query, messages.text("telegram_bad_button", lang), alert=True)
            return
        try:
            if verb in PROMPT_VERBS:
                await self.actors.require_member(user_id, lang)
                said = await self._ask(query, context, verb, number, lang)
            else:
                outcome = await self.actors.perform(
                    user_id=user_id,
                    incident=number,
                    verb=verb,
                    lang=lang,
                    callback_id=f"cb:{query.id}",
                )
                said = outcome.message
        except (ActionRefused, NotFound) as refusal:
            await _answer(query, refusal.message, alert=True)
            return
        # Every copy of the card is refreshed by the outbox; the presser hears the outcome.
        await _answer(query, said)

    async def _ask(
        self, query: CallbackQuery, context: Context, verb: Verb, number: int, lang: str
    ) -> str:
        """Send the ForceReply prompt under the card; what to tell the presser."""
        failed = messages.text("telegram_prompt_failed", lang, verb=verb.value, number=number)
        card = query.message
        if card is None:  # a button on an inline-mode message: there is no chat to ask in
            return failed
        user = query.from_user
        prompt = context.bot.send_message(
            chat_id=card.chat.id,
            text=prompt_html(verb, number, lang, user.id, user.first_name),
            parse_mode=PARSE_MODE,
            reply_markup=ForceReply(
                selective=True, input_field_placeholder=placeholder(verb, number, lang)
            ),
            reply_parameters=ReplyParameters(
                message_id=card.message_id, allow_sending_without_reply=True
            ),
        )
        try:
            await call(prompt)
        except PlatformError as exc:
            log.warning("telegram prompt for #%s %s failed: %s", number, verb.value, exc)
            return failed
        return messages.text("telegram_prompt_sent", lang)

    async def on_prompt_reply(self, update: Update, context: Context) -> None:
        """The answer to a prompt: the comment, or whom to escalate to."""
        message = update.message
        if message is None or message.from_user is None or message.reply_to_message is None:
            return
        asked = read_prompt(message.reply_to_message.text or "")
        if asked is None:
            return
        verb, number = asked
        lang = language(message.from_user.language_code)
        text = message.text or ""
        try:
            args: dict[str, Any] = {"text": text}
            if verb is Verb.ESCALATE:
                target = escalation(number, text).member
                args = {"member": target} if target else {}
            outcome = await self.actors.perform(
                user_id=str(message.from_user.id),
                incident=number,
                verb=verb,
                lang=lang,
                args=args,
                callback_id=f"msg:{message.chat.id}:{message.message_id}",
            )
            answer = escape(outcome.message)
        except CommandError as mistake:
            answer = mistake_text(mistake, lang, _bot_name(context))
        except (ActionRefused, NotFound) as refusal:
            answer = escape(refusal.message)
        await _reply(message, Reply(answer))

    # --- text commands ----------------------------------------------------------------------

    async def on_text(self, update: Update, context: Context) -> None:
        """``/ack 42`` anywhere (``/ack@bot 42`` in groups), or ``ack 42`` in a private chat."""
        message = update.message
        if message is None or message.from_user is None or not message.text:
            return
        reply = await self.conversation.answer(
            command_text(message.text),
            user_id=str(message.from_user.id),
            lang=language(message.from_user.language_code),
            bot_name=_bot_name(context),
            callback_id=f"msg:{message.chat.id}:{message.message_id}",
            private=message.chat.type == "private",
        )
        await _reply(message, reply)

    async def on_error(self, update: object, context: Context) -> None:
        """The one place an unexpected error in a handler is logged; the update is dropped."""
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("telegram update %s failed", update_id, exc_info=context.error)


async def _answer(query: CallbackQuery, text: str, *, alert: bool = False) -> None:
    """Stop the button's spinner, showing ``text`` (as a dialog when ``alert``)."""
    await _quietly(query.answer(text=clip(text, ANSWER_MAX), show_alert=alert), "answerCallback")


async def _reply(message: Message, reply: Reply) -> None:
    """Answer ``message`` in its chat (quoting it in groups, as PTB does by default)."""
    request = message.reply_text(
        reply.text,
        parse_mode=PARSE_MODE,
        reply_markup=inline_markup(reply.keyboard or []),
        link_preview_options=NO_PREVIEW,
    )
    await _quietly(request, "sendMessage")


async def _quietly(request: Awaitable[object], method: str) -> None:
    """Send an answer; one that Telegram refuses is logged, there is no one else to tell."""
    try:
        await call(request)
    except PlatformError as exc:
        log.warning("telegram %s failed: %s", method, exc)


def _bot_name(context: Context) -> str:
    return str(context.bot.username)
