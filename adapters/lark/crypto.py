"""Feishu's event security: the request signature and the AES-256-CBC ``encrypt`` envelope.

Written here (small, pinned by Feishu's published decryption example) because ackgate does
not run events through lark-oapi: its dispatcher is synchronous and answers a forged
request with HTTP 500.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from gateway.errors import Unauthorized

BLOCK_BYTES = 16  # AES block, and the IV that leads every envelope


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    """``X-Lark-Signature``: hex SHA-256 of timestamp + nonce + encrypt key + raw body."""
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


def signed(timestamp: str, nonce: str, encrypt_key: str, body: bytes, given: str) -> bool:
    """Whether ``given`` is the request's signature (compared in constant time)."""
    expected = signature(timestamp, nonce, encrypt_key, body)
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())


def _key(encrypt_key: str) -> bytes:
    return hashlib.sha256(encrypt_key.encode()).digest()


def decrypt(encrypt_key: str, envelope: str) -> bytes:
    """The plaintext of ``{"encrypt": envelope}``: base64(IV + AES-256-CBC(PKCS#7(text))).

    Raises:
        Unauthorized: The envelope is not base64, not whole blocks, or not made with our
            key (the padding does not check out).
    """
    try:
        raw = base64.b64decode(envelope, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Unauthorized("lark: the encrypted body is not base64") from exc
    if len(raw) < 2 * BLOCK_BYTES or len(raw) % BLOCK_BYTES:
        raise Unauthorized("lark: the encrypted body is not whole AES blocks")
    decryptor = Cipher(algorithms.AES(_key(encrypt_key)), modes.CBC(raw[:BLOCK_BYTES])).decryptor()
    padded = decryptor.update(raw[BLOCK_BYTES:]) + decryptor.finalize()
    unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:
        raise Unauthorized("lark: the encrypted body was not made with our encrypt key") from exc


def encrypt(encrypt_key: str, plaintext: bytes, iv: bytes | None = None) -> str:
    """What Feishu puts in ``encrypt`` for ``plaintext`` (tests and fakes speak as Feishu)."""
    iv = os.urandom(BLOCK_BYTES) if iv is None else iv
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(_key(encrypt_key)), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(padded) + encryptor.finalize()).decode()
