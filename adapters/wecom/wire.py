"""WeCom's XML, read with defusedxml: no DTD, so no entity can expand.

Every callback is ``<xml>`` with one level of children (``<ToUserName>``, ``<Encrypt>``, …;
the decrypted event likewise), so a message is read as a flat ``{tag: text}`` mapping.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml import ElementTree as SafeElementTree

from gateway.errors import MalformedPayload

ROOT = "xml"


def read(raw: bytes, what: str) -> dict[str, str]:
    """The children of the ``<xml>`` document ``raw`` as ``{tag: text}``.

    A DOCTYPE (and with it any entity declaration) is refused outright, as is anything that
    is not one well-formed ``<xml>`` element. ``what`` names the document in the error.

    Raises:
        MalformedPayload: Not such a document.
    """
    try:
        root: Element = SafeElementTree.fromstring(raw, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise MalformedPayload(f"is not WeCom XML: {type(exc).__name__}", what) from None
    if root.tag != ROOT:
        raise MalformedPayload(f"must be <{ROOT}>, not <{str(root.tag)[:40]}>", what)
    return {child.tag: child.text or "" for child in root}
