"""Where a Teams message goes: ``"<serviceUrl>|<id>"`` addresses, and the service URLs and
tenants learned from the activities Teams sends.

Every call to Teams goes to the Bot Connector at the ``serviceUrl`` of the conversation
(it depends on the tenant's region and cloud). A destination therefore carries it:

- a channel or chat configured as a notify destination: ``chat = "<serviceUrl>|<conversationId>"``
  (the bot tells it when it joins, and with ``help``);
- a member's Teams identity: ``user_id = "<aadObjectId>"`` (or the ``29:`` id), optionally as
  ``"<serviceUrl>|<aadObjectId>"``.

An address without a service URL uses the one Teams last sent for that user or conversation
(kept in memory, filled by every authenticated activity), else the global public-cloud one.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

SEPARATOR = "|"
# Microsoft's documented service URL for proactive messages in the public cloud, used only
# when neither the address nor an activity told a better one (GCC and sovereign clouds have
# their own: put them in the address).
DEFAULT_SERVICE_URL = "https://smba.trafficmanager.net/teams/"
REMEMBERED = 10_000
# A Teams channel's conversation id; a reply in a card's thread adds ``;messageid=<root>``.
CHANNEL_SUFFIXES = ("@thread.tacv2", "@thread.skype")
THREAD_MARK = ";messageid="


@dataclass(frozen=True, slots=True)
class Address:
    """A conversation or a user at the Bot Connector that serves them."""

    service_url: str
    id: str

    def __str__(self) -> str:
        return f"{self.service_url}{SEPARATOR}{self.id}"


@dataclass(frozen=True, slots=True)
class Seen:
    """What an activity told about a user or a conversation."""

    service_url: str
    tenant_id: str | None


class Directory:
    """Service URLs and tenants Teams sent lately, per user id and conversation id.

    One per process (``KNOWN``): the inbound route fills it, the outbox's sender reads it.
    In memory is enough: an address that must work from any replica carries its service URL.
    """

    def __init__(self, size: int = REMEMBERED) -> None:
        self._size = size
        self._seen: OrderedDict[str, Seen] = OrderedDict()

    def learn(self, ids: Iterable[str | None], service_url: str, tenant_id: str | None) -> None:
        """Remember that ``ids`` (users, conversations) are served at ``service_url``."""
        seen = Seen(service_url, tenant_id)
        for key in ids:
            if not key:
                continue
            self._seen[key] = seen
            self._seen.move_to_end(key)
        while len(self._seen) > self._size:
            self._seen.popitem(last=False)

    def get(self, key: str) -> Seen | None:
        """What was learned about a user or conversation id, if anything."""
        return self._seen.get(key)

    def clear(self) -> None:
        """Forget everything (a new test, or a gateway that moved clouds)."""
        self._seen.clear()


KNOWN = Directory()


def parse(value: str) -> tuple[str | None, str]:
    """``"<serviceUrl>|<id>"`` → (service URL, id); a bare id → (None, id)."""
    head, separator, tail = value.partition(SEPARATOR)
    if separator and head.startswith(("https://", "http://")) and tail:
        return head, tail
    return None, value


def resolve(value: str, directory: Directory = KNOWN) -> Address:
    """The address ``value`` means: its own service URL, the one learned, or the default."""
    service_url, key = parse(value)
    if service_url is None:
        seen = directory.get(key)
        service_url = seen.service_url if seen is not None else DEFAULT_SERVICE_URL
    return Address(service_url, key)


def conversation_root(conversation_id: str) -> str:
    """A channel conversation without the thread it was written in (the chat to configure)."""
    return conversation_id.split(THREAD_MARK, 1)[0]


def thread_of(conversation_id: str, root_id: str) -> str:
    """The conversation to reply in under the message ``root_id``.

    In a channel that is the card's thread (``;messageid=``); a chat has no threads.
    """
    if conversation_id.endswith(CHANNEL_SUFFIXES):
        return f"{conversation_id}{THREAD_MARK}{root_id}"
    return conversation_id
