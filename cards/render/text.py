"""Card → plain text for SMS, voice and email, optionally trimmed to a length."""

from __future__ import annotations

from cards.model import Card, clip


def render_text(card: Card, *, max_chars: int | None = None) -> str:
    """The card as plain text; ``max_chars`` trims the rest before the title and status line."""
    head = f"{card.emoji} {card.title}\n{card.status_line}"
    sections = [
        card.summary,
        "\n".join(f"{field.label}: {field.value}" for field in card.fields),
        "\n".join(f"{link.label}: {link.url}" for link in card.links),
        "\n".join(card.timeline),
    ]
    body = "\n\n".join(section for section in sections if section)
    text = f"{head}\n\n{body}" if body else head
    if max_chars is None or len(text) <= max_chars:
        return text
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, got {max_chars}")
    # The head survives whole when there is room for it and the "…" that says more was cut.
    return clip(head if max_chars <= len(head) else text, max_chars)
