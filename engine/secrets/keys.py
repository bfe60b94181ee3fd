"""The data keys: AES-256-GCM for reporter identity and attachments, HMAC-SHA256 for the blind index of
reporter names, both derived (HKDF) from one 32-byte data key per key id.

Where the keys come from:
- `XINFANG_DATA_KEY` (base64 of 32 bytes) is the current key; `XINFANG_PREVIOUS_DATA_KEYS` (comma-separated)
  may name older ones still needed until `xinfang keys rotate` has re-encrypted everything under the new one.
- Otherwise a key file (JSON, mode 0600) beside the SQLite database in `instance/`, generated on first use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from engine.errors import EngineError
from engine.store.db import instance_folder

ENV_KEY = "XINFANG_DATA_KEY"
ENV_PREVIOUS = "XINFANG_PREVIOUS_DATA_KEYS"
KEY_FILE_NAME = "xinfang-data-keys.json"
KEY_BYTES = 32
NONCE_BYTES = 12
# Names are indexed by every prefix up to this length (and whole), so a surname finds its reporters.
PREFIX_LIMIT = 10


class DataKeyError(EngineError):
    """A key that is missing or malformed; the message is for the operator."""


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def key_id(key: bytes) -> str:
    """A stable name for a key that reveals nothing of it (a hash of a 256-bit random key)."""
    return "k" + hashlib.sha256(b"xinfang key id" + key).hexdigest()[:15]


def _decode(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except ValueError as exc:
        raise DataKeyError(f"{where} 不是合法的 base64：{exc}") from exc
    if len(key) != KEY_BYTES:
        raise DataKeyError(f"{where} 应为 {KEY_BYTES} 字节（base64 编码），实际 {len(key)} 字节")
    return key


def _derive(key: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"xinfang " + purpose).derive(key)


def normalise_name(name: str) -> str:
    """What the blind index compares: NFKC (full-width letters and digits fold), no spaces, case-folded."""
    return "".join(unicodedata.normalize("NFKC", name).split()).casefold()


@dataclass(frozen=True)
class _Key:
    aead: AESGCM
    index: bytes


class Keyring:
    """The keys by id and the current one. In file mode it re-reads the file when it changed, so a
    process running beside `xinfang keys rotate` encrypts under the new key and still reads the old."""

    def __init__(self, keys: Mapping[str, bytes], current: str, path: Path | None = None) -> None:
        if current not in keys:
            raise DataKeyError(f"当前密钥 {current} 不在密钥表中")
        self.path = path
        self._lock = threading.Lock()
        self._set(keys, current)

    def _set(self, keys: Mapping[str, bytes], current: str) -> None:
        self._raw = dict(keys)
        self._keys = {kid: _Key(AESGCM(_derive(k, b"aes-gcm")), _derive(k, b"blind index")) for kid, k in keys.items()}
        self.current = current
        self._stamp = self._file_stamp()

    def _file_stamp(self) -> tuple[int, int] | None:
        if self.path is None or not self.path.exists():
            return None
        stat = self.path.stat()
        return stat.st_mtime_ns, stat.st_size

    def refresh(self) -> None:
        """Re-read the key file if another process rewrote it."""
        if self.path is None:
            return
        with self._lock:
            if self._file_stamp() != self._stamp:
                keys, current = _read_file(self.path)
                self._set(keys, current)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def _key(self, kid: str) -> _Key:
        if kid not in self._keys:
            self.refresh()
        if kid not in self._keys:
            raise DataKeyError(f"缺少数据密钥 {kid}：请检查 {ENV_KEY} / {ENV_PREVIOUS} 或密钥文件")
        return self._keys[kid]

    def encrypt(self, plaintext: bytes, aad: bytes) -> tuple[str, bytes, bytes]:
        """(key id, nonce, ciphertext with tag) under the current key."""
        self.refresh()
        nonce = secrets.token_bytes(NONCE_BYTES)
        return self.current, nonce, self._key(self.current).aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, kid: str, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        return self._key(kid).aead.decrypt(nonce, ciphertext, aad)

    def name_tokens(self, name: str) -> set[str]:
        """The blind-index tokens of a name under the current key: every prefix up to PREFIX_LIMIT, and
        the whole name."""
        text = normalise_name(name)
        if not text:
            return set()
        index = self._key(self.current).index
        parts = {text[:end] for end in range(1, min(len(text), PREFIX_LIMIT) + 1)} | {text}
        return {_token(index, part) for part in parts}

    def name_digest(self, name: str) -> str:
        """The whole normalised name's token under the current key ("" for a blank name)."""
        text = normalise_name(name)
        return _token(self._key(self.current).index, text) if text else ""

    def query_tokens(self, name: str) -> set[str]:
        """A searched name's token under every key: rows not yet re-encrypted still match."""
        text = normalise_name(name)
        return {_token(self._key(kid).index, text) for kid in self.ids} if text else set()

    def add_current(self) -> str:
        """Rotation's first step (file mode): a fresh current key, written beside the old ones."""
        if self.path is None:
            raise DataKeyError(f"数据密钥来自环境变量 {ENV_KEY}：请把新密钥设为 {ENV_KEY}、"
                               f"旧密钥列入 {ENV_PREVIOUS} 后再轮换")
        key = new_key()
        kid = key_id(key)
        with self._lock:
            keys = {**self._raw, kid: key}
            _write_file(self.path, keys, kid)
            self._set(keys, kid)
        return kid

    def retire_old_keys(self) -> list[str]:
        """Rotation's last step, once nothing is encrypted under them: the file keeps only the current key.
        From the environment the caller is told which keys may go from `XINFANG_PREVIOUS_DATA_KEYS`."""
        old = [kid for kid in self.ids if kid != self.current]
        if self.path is not None and old:
            with self._lock:
                keys = {self.current: self._raw[self.current]}
                _write_file(self.path, keys, self.current)
                self._set(keys, self.current)
        return old


def _token(index: bytes, text: str) -> str:
    return hmac.new(index, text.encode("utf-8"), hashlib.sha256).hexdigest()


def _read_file(path: Path) -> tuple[dict[str, bytes], str]:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
        keys = {kid: _decode(text, f"密钥文件 {path} 中的 {kid}") for kid, text in content["keys"].items()}
        return keys, content["current"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataKeyError(f"无法读取密钥文件 {path}：{exc}") from exc


def _write_file(path: Path, keys: Mapping[str, bytes], current: str) -> None:
    """Written to a 0600 temporary file and renamed over the old one: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"current": current, "keys": {kid: base64.b64encode(k).decode() for kid, k in keys.items()}},
                      indent=2)
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def default_key_file(database_url: str) -> Path:
    return instance_folder(database_url) / KEY_FILE_NAME


def load_keyring(key_file: Path, environ: Mapping[str, str] = os.environ) -> Keyring:
    """The environment's keys if `XINFANG_DATA_KEY` is set, else the key file's, generating it if absent."""
    if environ.get(ENV_KEY):
        current = _decode(environ[ENV_KEY], ENV_KEY)
        previous = [_decode(text, ENV_PREVIOUS) for text in environ.get(ENV_PREVIOUS, "").split(",") if text.strip()]
        keys = {key_id(k): k for k in (*previous, current)}
        return Keyring(keys, key_id(current))
    if not key_file.exists():
        key = new_key()
        _write_file(key_file, {key_id(key): key}, key_id(key))
    keys, current = _read_file(key_file)
    return Keyring(keys, current, key_file)
