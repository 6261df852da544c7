"""The persistent embedding cache: the entry file format and the directory store.

One file per entry, written to a temporary file beside it and renamed into
place, carrying a header with the format version, the full key hash and a
SHA-256 of the payload, so a partial, corrupt or foreign file is detected,
never returned.
"""

import hashlib
import json
import os
import struct
import tempfile
import warnings
from pathlib import Path

import numpy as np

from ..exceptions import EmbeddingCacheWarning
from ._entries import CacheEntry

FORMAT_VERSION = 1
DIRECTORY_NAME = f"sklearn-elmo-cache-v{FORMAT_VERSION}"
_MAGIC = b"SKELMOC\n"
_PREFIX = struct.Struct("<8sII")  # magic, format version, header length
_MAX_HEADER = 1 << 16


class CorruptEntry(ValueError):
    """A persistent entry that must not be used."""


def encode_entry(entry, key_hash):
    """Bytes of a persistent entry: prefix, JSON header, payload."""
    parts = [
        np.ascontiguousarray(entry.means, "<f4").tobytes(),
        np.ascontiguousarray(entry.sq_means, "<f8").tobytes(),
    ]
    token_dtype = None
    if entry.tokens is not None:
        token_dtype = "float16" if entry.tokens.dtype == np.float16 else "float32"
        code = "<f2" if token_dtype == "float16" else "<f4"
        parts.append(np.ascontiguousarray(entry.tokens, code).tobytes())
    payload = b"".join(parts)
    header = json.dumps(
        {
            "format": FORMAT_VERSION,
            "key": key_hash,
            "n_tokens": entry.n_tokens,
            "n_layers": int(entry.means.shape[0]),
            "dim": int(entry.means.shape[1]),
            "tokens": token_dtype,
            "payload_bytes": len(payload),
            "payload_sha256": hashlib.sha256(payload).hexdigest(),
        },
        sort_keys=True,
    ).encode()
    return _PREFIX.pack(_MAGIC, FORMAT_VERSION, len(header)) + header + payload


def decode_entry(data, key_hash, n_layers, dim):
    """Check and read a persistent entry; raise :class:`CorruptEntry` if unusable."""
    if len(data) < _PREFIX.size:
        raise CorruptEntry(f"truncated: {len(data)} bytes")
    magic, version, header_size = _PREFIX.unpack_from(data)
    if magic != _MAGIC:
        raise CorruptEntry("not an sklearn-elmo cache entry (bad magic bytes)")
    if version != FORMAT_VERSION:
        raise CorruptEntry(f"format version {version}, expected {FORMAT_VERSION}")
    if header_size > _MAX_HEADER or _PREFIX.size + header_size > len(data):
        raise CorruptEntry("truncated or malformed header")
    try:
        header = json.loads(data[_PREFIX.size : _PREFIX.size + header_size])
        stored_key = header["key"]
        n_tokens = int(header["n_tokens"])
        token_dtype = header["tokens"]
        payload_bytes = int(header["payload_bytes"])
        checksum = header["payload_sha256"]
        shape = (int(header["n_layers"]), int(header["dim"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptEntry(f"malformed header ({exc})") from None
    if stored_key != key_hash:
        raise CorruptEntry(f"foreign entry: it holds key {str(stored_key)[:16]}...")
    if shape != (n_layers, dim):
        raise CorruptEntry(f"layers of shape {shape}, expected {(n_layers, dim)}")
    if n_tokens < 0 or token_dtype not in (None, "float16", "float32"):
        raise CorruptEntry("malformed header (token count or dtype)")
    payload = memoryview(data)[_PREFIX.size + header_size :]
    item = {None: 0, "float16": 2, "float32": 4}[token_dtype]
    expected = n_layers * dim * 4 + n_layers * 8 + n_tokens * n_layers * dim * item
    if len(payload) != payload_bytes or payload_bytes != expected:
        raise CorruptEntry(
            f"payload of {len(payload)} bytes, expected {expected} (truncated?)"
        )
    if hashlib.sha256(payload).hexdigest() != checksum:
        raise CorruptEntry("payload checksum mismatch")
    at = n_layers * dim * 4
    means = np.frombuffer(payload[:at], "<f4").astype(np.float32).reshape(shape)
    sq_means = np.frombuffer(payload[at : at + n_layers * 8], "<f8").astype(np.float64)
    tokens = None
    if token_dtype is not None:
        code = "<f2" if token_dtype == "float16" else "<f4"
        tokens = np.frombuffer(payload[at + n_layers * 8 :], code)
        tokens = tokens.astype(np.dtype(code).newbyteorder("=")).reshape(
            n_tokens, n_layers, dim
        )
    return CacheEntry(n_tokens, means, sq_means, tokens)


def _write_all(fh, data):
    fh.write(data)


class DiskStore:
    """Entries of one biLM in ``<cache_dir>/sklearn-elmo-cache-v1/<fingerprint>/``.

    Collects problems (``bad`` entries, the first ``write_error``) so the
    caller warns once per call; after a failed write it stops writing.
    """

    def __init__(self, cache_dir, fingerprint):
        self.root = Path(cache_dir).expanduser() / DIRECTORY_NAME
        self.folder = self.root / fingerprint[:32]
        self.bad = []
        self.write_error = None

    def path(self, key_hash):
        return self.folder / key_hash[:2] / f"{key_hash}.emb"

    def read(self, key_hash, n_layers, dim, token_dtype):
        path = self.path(key_hash)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            self.bad.append((path, f"unreadable ({exc})"))
            return None
        try:
            entry = decode_entry(data, key_hash, n_layers, dim)
        except CorruptEntry as exc:
            self.bad.append((path, str(exc)))
            return None
        return entry if entry.serves(token_dtype) else None

    def write(self, key_hash, entry):
        if self.write_error is not None:
            return
        path = self.path(key_hash)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(
                prefix=f".{key_hash[:16]}-", suffix=".part", dir=path.parent
            )
            try:
                with os.fdopen(fd, "wb") as fh:
                    _write_all(fh, encode_entry(entry, key_hash))
                os.replace(temporary, path)  # atomic: readers see all or nothing
            except BaseException:
                try:
                    os.unlink(temporary)
                except OSError:
                    pass
                raise
        except OSError as exc:
            self.write_error = exc

    def report(self, stacklevel):
        if self.bad:
            path, reason = self.bad[0]
            warnings.warn(
                EmbeddingCacheWarning(
                    f"{len(self.bad)} entr{'y' if len(self.bad) == 1 else 'ies'} of "
                    f"the embedding cache in {self.root} could not be used and "
                    f"{'was' if len(self.bad) == 1 else 'were'} recomputed; first: "
                    f"{path}: {reason}"
                ),
                stacklevel=stacklevel,
            )
        if self.write_error is not None:
            warnings.warn(
                EmbeddingCacheWarning(
                    f"Could not write to the embedding cache in {self.root} "
                    f"({self.write_error}); the embeddings are correct but were not "
                    "saved there."
                ),
                stacklevel=stacklevel,
            )


def key_hash(namespace, text):
    """The hex SHA-256 naming the entry of ``text`` in ``namespace``."""
    fingerprint, identity, max_tokens = namespace
    blob = json.dumps([FORMAT_VERSION, fingerprint, identity, max_tokens, text])
    return hashlib.sha256(blob.encode()).hexdigest()
