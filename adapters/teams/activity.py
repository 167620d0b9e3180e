"""An activity Teams sends, read into the few typed fields ackgate uses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from adapters.teams.addresses import Address, conversation_root
from gateway.domain import JSONObject
from gateway.errors import MalformedPayload

CHANNEL_ID = "msteams"
CARD_ACTION = "adaptiveCard/action"


@dataclass(frozen=True, slots=True)
class Sender:
    """The person an activity is from."""

    id: str  # the Teams id (``29:…``), stable per bot
    aad_object_id: str | None  # the Entra ID (Azure AD) object id, the same for every app
    name: str

    @property
    def account(self) -> str:
        """The id a member's identity names: the object id when Teams sends one."""
        return self.aad_object_id or self.id


@dataclass(frozen=True, slots=True)
class Mention:
    """One ``<at>…</at>`` in a message's text and whom it names."""

    text: str
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Incoming:
    """One activity, read; ``value`` and the rest stay as Teams sent them."""

    type: str
    id: str
    channel_id: str
    service_url: str
    conversation_id: str
    conversation_type: str
    tenant_id: str | None
    sender: Sender | None
    recipient_id: str
    name: str  # an invoke's name
    text: str
    value: Any
    mentions: tuple[Mention, ...] = ()
    members_added: tuple[str, ...] = field(default_factory=tuple)

    @property
    def conversation(self) -> Address:
        """Where to answer: this conversation (a channel thread included)."""
        return Address(self.service_url, self.conversation_id)

    @property
    def chat(self) -> str:
        """The chat to configure as a destination: the channel or chat, without the thread."""
        return str(Address(self.service_url, conversation_root(self.conversation_id)))

    @property
    def personal(self) -> bool:
        """Whether this is a 1:1 chat with the bot."""
        return self.conversation_type == "personal"


def read(doc: object) -> Incoming:
    """The activity in ``doc``; raises MalformedPayload when a field ackgate needs is missing."""
    if not isinstance(doc, Mapping):
        raise MalformedPayload("must be a JSON object", "activity")
    conversation = _obj(doc.get("conversation"))
    sender = _obj(doc.get("from"))
    channel_data = _obj(doc.get("channelData"))
    tenant = conversation.get("tenantId") or _obj(channel_data.get("tenant")).get("id")
    sender_id = sender.get("id")
    return Incoming(
        type=_required(doc, "type"),
        id=_text(doc.get("id")),
        channel_id=_required(doc, "channelId"),
        service_url=_required(doc, "serviceUrl"),
        conversation_id=_required(conversation, "id", "conversation.id"),
        conversation_type=_text(conversation.get("conversationType")),
        tenant_id=tenant if isinstance(tenant, str) and tenant else None,
        sender=(
            Sender(
                id=sender_id,
                aad_object_id=_text(sender.get("aadObjectId")) or None,
                name=_text(sender.get("name")),
            )
            if isinstance(sender_id, str) and sender_id
            else None
        ),
        recipient_id=_text(_obj(doc.get("recipient")).get("id")),
        name=_text(doc.get("name")),
        text=_text(doc.get("text")),
        value=doc.get("value"),
        mentions=tuple(_mentions(doc.get("entities"))),
        members_added=tuple(
            _text(_obj(m).get("id")) for m in _list(doc.get("membersAdded")) if _obj(m).get("id")
        ),
    )


def _mentions(entities: object) -> list[Mention]:
    found = []
    for entity in _list(entities):
        entity = _obj(entity)
        mentioned = _obj(entity.get("mentioned"))
        if entity.get("type") == "mention" and mentioned.get("id") and entity.get("text"):
            found.append(
                Mention(
                    text=_text(entity.get("text")),
                    id=_text(mentioned.get("id")),
                    name=_text(mentioned.get("name")),
                )
            )
    return found


def _required(doc: Mapping[str, Any], key: str, where: str | None = None) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedPayload("is missing", where or key)
    return value


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _obj(value: object) -> JSONObject:
    return dict(value) if isinstance(value, Mapping) else {}


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []
