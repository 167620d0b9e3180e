"""WeCom's callback crypto, pinned by the two vectors of Tencent's own sample
(github.com/sbzhu/weworkapi_python, ``callback/Sample.py``): the URL check and a message."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from adapters.wecom.crypto import WecomCrypto, pad, signature, unpad
from gateway.errors import Unauthorized
from tests.fakes.wecom import wecom_decrypt, wecom_encrypt, wecom_sign

# The sample's app settings.
TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
CORP_ID = "ww1436e0e65a779aee"

# Vector 1, VerifyURL: the GET WeCom makes to check the callback URL.
URL_SIGNATURE = "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb"
URL_TIMESTAMP = "1476416373"
URL_NONCE = "47744683"
URL_ECHOSTR = (
    "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA=="
)
URL_PLAINTEXT = b"1288432023552776189"

# Vector 2, DecryptMsg: a text message POSTed to the callback URL.
MSG_SIGNATURE = "0c3914025cb4b4d68103f6bfc8db550f79dcf48e"
MSG_TIMESTAMP = "1476422779"
MSG_NONCE = "1597212914"
MSG_ENCRYPT = (
    "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAg"
    "GzBhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9"
    "U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qA"
    "RR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL"
    "6aSDPOYuPDGOCI8jmnKiypE+"
)
MSG_PLAINTEXT = (
    "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName>"
    "<CreateTime>1476422779</CreateTime><MsgType>text</MsgType><Content>你好</Content>"
    "<MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>"
).encode()


@pytest.fixture
def crypto() -> WecomCrypto:
    return WecomCrypto(TOKEN, AES_KEY, CORP_ID)


def test_the_url_check_vector(crypto: WecomCrypto) -> None:
    assert signature(TOKEN, URL_TIMESTAMP, URL_NONCE, URL_ECHOSTR) == URL_SIGNATURE
    assert crypto.open(URL_SIGNATURE, URL_TIMESTAMP, URL_NONCE, URL_ECHOSTR) == URL_PLAINTEXT


def test_the_message_vector(crypto: WecomCrypto) -> None:
    assert signature(TOKEN, MSG_TIMESTAMP, MSG_NONCE, MSG_ENCRYPT) == MSG_SIGNATURE
    assert crypto.open(MSG_SIGNATURE, MSG_TIMESTAMP, MSG_NONCE, MSG_ENCRYPT) == MSG_PLAINTEXT


def test_the_message_vector_is_padded_past_an_aes_block() -> None:
    """Its padding is 22 bytes: PKCS#7 to 32-byte blocks, which a 16-byte unpadder refuses."""
    key = base64.b64decode(AES_KEY + "=")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    raw = decryptor.update(base64.b64decode(MSG_ENCRYPT)) + decryptor.finalize()
    assert raw[-1] == 22
    assert len(unpad(raw)) == len(raw) - 22


def test_the_fakes_independent_algorithm_reads_the_vectors_too() -> None:
    assert wecom_sign(TOKEN, MSG_TIMESTAMP, MSG_NONCE, MSG_ENCRYPT) == MSG_SIGNATURE
    assert wecom_decrypt(MSG_ENCRYPT, AES_KEY) == (MSG_PLAINTEXT, CORP_ID)
    assert wecom_decrypt(URL_ECHOSTR, AES_KEY) == (URL_PLAINTEXT, CORP_ID)


def test_a_wrong_signature_is_refused(crypto: WecomCrypto) -> None:
    with pytest.raises(Unauthorized, match="msg_signature"):
        crypto.open("0" * 40, MSG_TIMESTAMP, MSG_NONCE, MSG_ENCRYPT)
    with pytest.raises(Unauthorized, match="msg_signature"):
        crypto.open(MSG_SIGNATURE, str(int(MSG_TIMESTAMP) + 1), MSG_NONCE, MSG_ENCRYPT)
    # The signature is case-insensitive hex, as WeCom's samples compare it.
    assert crypto.open(MSG_SIGNATURE.upper(), MSG_TIMESTAMP, MSG_NONCE, MSG_ENCRYPT)


def test_a_message_for_another_corp_is_refused() -> None:
    other = WecomCrypto(TOKEN, AES_KEY, "wwsomeothercorp0001")
    with pytest.raises(Unauthorized, match="another corp"):
        other.decrypt(MSG_ENCRYPT)


def test_another_key_or_a_damaged_envelope_is_refused(crypto: WecomCrypto) -> None:
    wrong = WecomCrypto(TOKEN, "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", CORP_ID)
    with pytest.raises(Unauthorized):
        wrong.decrypt(MSG_ENCRYPT)
    for damaged in ("not base64!", base64.b64encode(b"x" * 20).decode(), ""):
        with pytest.raises(Unauthorized):
            crypto.decrypt(damaged)
    raw = bytearray(base64.b64decode(MSG_ENCRYPT))
    raw[-1] ^= 0x01  # the last block (and its padding) no longer decrypts
    with pytest.raises(Unauthorized):
        crypto.decrypt(base64.b64encode(bytes(raw)).decode())


def test_what_we_seal_opens_here_and_in_the_fake(crypto: WecomCrypto) -> None:
    message = "<xml><MsgType>update_button</MsgType><Content>确认</Content></xml>".encode()
    encrypt, sig = crypto.seal(message, "1700000000", "nonce")
    assert sig == wecom_sign(TOKEN, "1700000000", "nonce", encrypt)
    assert crypto.open(sig, "1700000000", "nonce", encrypt) == message
    assert wecom_decrypt(encrypt, AES_KEY) == (message, CORP_ID)
    assert crypto.decrypt(wecom_encrypt(message, AES_KEY, CORP_ID)) == message


@pytest.mark.parametrize("size", [0, 1, 31, 32, 33, 64])
def test_padding_fills_32_byte_blocks(size: int) -> None:
    padded = pad(b"a" * size)
    assert len(padded) % 32 == 0
    assert 1 <= padded[-1] <= 32
    assert unpad(padded) == b"a" * size


def test_an_encoding_aes_key_must_be_43_base64_characters() -> None:
    for bad in ("short", AES_KEY + "A", AES_KEY[:-1] + "!"):
        with pytest.raises(ValueError, match="43 base64"):
            WecomCrypto(TOKEN, bad, CORP_ID)
