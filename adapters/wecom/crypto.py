"""WeCom's callback security (its WXBizMsgCrypt): the ``msg_signature`` and the AES envelope.

No maintained library covers it, so it is written once here, small, and pinned by the two
test vectors of Tencent's own sample (``tests/adapters/wecom/test_crypto.py``):

- ``msg_signature`` = hex SHA-1 of the token, timestamp, nonce and ``Encrypt``, sorted and
  joined;
- ``Encrypt`` = base64(AES-256-CBC(key, iv = key[:16], PKCS#7 to 32-byte blocks(
  16 random bytes | uint32 big-endian length | message | receive id))), with
  key = base64decode(EncodingAESKey + "=") and the receive id the corp id (self-built app).

Padding is to 32 bytes, not AES's 16: a pad byte may be up to 32, which ``cryptography``'s
PKCS7(128) unpadder refuses, so (un)padding is done here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from gateway.errors import Unauthorized

KEY_CHARS = 43  # EncodingAESKey: 43 base64 characters, 32 bytes once "=" is added
PAD_BLOCK = 32
AES_BLOCK = 16
RANDOM_BYTES = 16
LENGTH_BYTES = 4


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """``msg_signature``: hex SHA-1 of the four values, sorted, then joined."""
    joined = "".join(sorted([token, timestamp, nonce, encrypt]))
    return hashlib.sha1(joined.encode()).hexdigest()  # noqa: S324 - WeCom's algorithm


def pad(data: bytes) -> bytes:
    """PKCS#7 to a multiple of 32 bytes (1 to 32 pad bytes, each the pad's length)."""
    amount = PAD_BLOCK - len(data) % PAD_BLOCK
    return data + bytes([amount]) * amount


def unpad(data: bytes) -> bytes:
    """``data`` without its PKCS#7 padding; raises ValueError when the padding is not one."""
    amount = data[-1] if data else 0
    if not 1 <= amount <= PAD_BLOCK or data[-amount:] != bytes([amount]) * amount:
        raise ValueError("bad padding")
    return data[:-amount]


class WecomCrypto:
    """One app's callback keys: checks and opens what WeCom sends, seals what it is sent.

    Every failure is an Unauthorized: whoever cannot sign or encrypt with our keys for our
    corp is not WeCom.
    """

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        """Raises ValueError when ``encoding_aes_key`` is not 43 base64 characters."""
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(encoding_aes_key) != KEY_CHARS or len(key) != 2 * AES_BLOCK:
            raise ValueError("the EncodingAESKey must be 43 base64 characters (32 bytes)")
        self._token = token
        self._key = key
        self._receive_id = receive_id.encode()

    def signed(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> bool:
        """Whether ``msg_signature`` signs the other three (compared in constant time)."""
        expected = signature(self._token, timestamp, nonce, encrypt)
        return hmac.compare_digest(expected.encode(), msg_signature.strip().lower().encode())

    def open(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> bytes:
        """The message in a signed ``Encrypt``: the signature first, then the envelope."""
        if not self.signed(msg_signature, timestamp, nonce, encrypt):
            raise Unauthorized("wecom: bad msg_signature")
        return self.decrypt(encrypt)

    def decrypt(self, encrypt: str) -> bytes:
        """The message in ``encrypt``, checked to be meant for our corp.

        Raises:
            Unauthorized: Not base64, not whole AES blocks, not made with our key (the
                padding or the length does not check out), or for another receive id.
        """
        try:
            raw = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError):
            raise Unauthorized("wecom: Encrypt is not base64") from None
        if not raw or len(raw) % AES_BLOCK:
            raise Unauthorized("wecom: Encrypt is not whole AES blocks")
        decryptor = self._cipher().decryptor()
        try:
            plain = unpad(decryptor.update(raw) + decryptor.finalize())
        except ValueError:
            raise Unauthorized("wecom: Encrypt was not made with our EncodingAESKey") from None
        head = RANDOM_BYTES + LENGTH_BYTES
        if len(plain) < head:
            raise Unauthorized("wecom: Encrypt is too short")
        (length,) = struct.unpack(">I", plain[RANDOM_BYTES:head])
        if head + length > len(plain):
            raise Unauthorized("wecom: Encrypt's length does not check out")
        message, receive_id = plain[head : head + length], plain[head + length :]
        if not hmac.compare_digest(receive_id, self._receive_id):
            raise Unauthorized("wecom: the message is for another corp (receive id)")
        return message

    def encrypt(self, message: bytes, random16: bytes | None = None) -> str:
        """``Encrypt`` for ``message`` (passive replies; fakes and tests speak as WeCom)."""
        prefix = os.urandom(RANDOM_BYTES) if random16 is None else random16
        if len(prefix) != RANDOM_BYTES:
            raise ValueError(f"the random prefix must be {RANDOM_BYTES} bytes")
        plain = prefix + struct.pack(">I", len(message)) + message + self._receive_id
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(pad(plain)) + encryptor.finalize()).decode()

    def seal(self, message: bytes, timestamp: str, nonce: str) -> tuple[str, str]:
        """``(Encrypt, msg_signature)`` for ``message`` at ``timestamp`` with ``nonce``."""
        encrypt = self.encrypt(message)
        return encrypt, signature(self._token, timestamp, nonce, encrypt)

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:AES_BLOCK]))
