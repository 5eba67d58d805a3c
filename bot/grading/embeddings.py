"""Static word embeddings for the offline grader, loaded from weights shipped inside a package.

The backend is WordLlama's ``l2_supercat`` 256-dimensional token table (MIT licence, about
16 MB of safetensors plus a tokenizer file, both inside the ``wordllama`` wheel). A text's
vector is the mean of its tokens' rows, L2-normalised: no neural network runs, so embedding is
a table look-up and needs no GPU, no torch and no network.

The table is stored as float16 in the wheel and stays float16 here: it is memory-mapped straight
from the installed file (the safetensors header is read to find the tensor), so only the pages
of rows actually used become resident, and the rows of one text are cast to float32 for the
arithmetic. The vectors are bit-identical to upcasting the whole table first (the weights were
float16 all along), at a fraction of the memory: the process no longer holds a 33 MB float32
copy plus a 16 MB float16 copy made while loading.

The package's own ``WordLlama.load`` is not used: in 0.4.0 it looks for the bundled tokenizer in
the wrong folder and falls back to a download, and importing the package configures the root
logger. We locate the two files without importing the package and read them directly.

The model is loaded lazily, once per process, behind a lock; :func:`get_embedder` returns
``None`` (and logs why, once) when the package is not installed, so callers can degrade to
lexical grading instead of failing.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import struct
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

#: Identifies the vectors: a change of backend changes every similarity.
MODEL_ID = "wordllama-l2_supercat-256"
WEIGHTS_FILE = Path("weights") / "l2_supercat_256.safetensors"
TOKENIZER_FILE = Path("tokenizers") / "l2_supercat_tokenizer_config.json"
TENSOR_KEY = "embedding.weight"
#: Text and word vectors kept in memory (each is 1 KiB): at most about 4 + 16 MiB.
TEXT_CACHE_SIZE = 4096
WORD_CACHE_SIZE = 16_384
#: safetensors dtype names this loader understands, as numpy dtypes (little-endian).
SAFETENSORS_DTYPES: dict[str, np.dtype[np.floating]] = {
    "F16": np.dtype("<f2"),
    "F32": np.dtype("<f4"),
}


class EmbeddingUnavailableError(RuntimeError):
    """The embedding backend's package or its bundled files are missing."""


def _package_dir() -> Path:
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingUnavailableError(
            "the 'wordllama' package is not installed; install it with: pip install 'wordllama>=0.4'"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def map_safetensors(path: Path, key: str) -> np.ndarray:
    """A read-only memory map of one 2-D tensor of a safetensors file, without copying it.

    The format is an 8-byte little-endian header length, a JSON header giving each tensor's
    dtype, shape and byte range, then the raw little-endian data.
    """
    try:
        with path.open("rb") as handle:
            (header_length,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(header_length))
        entry = header[key]
        dtype = SAFETENSORS_DTYPES[entry["dtype"]]
        rows, columns = (int(n) for n in entry["shape"])
        begin, end = (int(n) for n in entry["data_offsets"])
    except (OSError, ValueError, KeyError, TypeError, struct.error) as exc:
        raise EmbeddingUnavailableError(f"unreadable embedding file {path}: {exc!r}") from exc
    if end - begin != rows * columns * dtype.itemsize:
        raise EmbeddingUnavailableError(f"embedding file {path}: tensor size does not match")
    return np.memmap(
        path, dtype=dtype, mode="r", offset=8 + header_length + begin, shape=(rows, columns)
    )


class StaticEmbedder:
    """Mean-pooled static token embeddings; thread-safe once constructed."""

    model_id = MODEL_ID

    def __init__(self, table: np.ndarray, tokenizer: object) -> None:
        # kept as given (float16 and memory-mapped when loaded from the package); rows are cast
        # to float32 when a text is embedded
        self._table = table
        self._tokenizer = tokenizer
        self.dimension = int(self._table.shape[1])
        self._text_cache = lru_cache(maxsize=TEXT_CACHE_SIZE)(self._embed_one)
        self._word_cache = lru_cache(maxsize=WORD_CACHE_SIZE)(self._embed_one)

    @classmethod
    def from_package(cls) -> StaticEmbedder:
        """Read the weights and tokenizer that ship inside the ``wordllama`` wheel."""
        root = _package_dir()
        weights, tokenizer_path = root / WEIGHTS_FILE, root / TOKENIZER_FILE
        for path in (weights, tokenizer_path):
            if not path.is_file():
                raise EmbeddingUnavailableError(f"bundled embedding file missing: {path}")
        try:
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - a wordllama dependency
            raise EmbeddingUnavailableError(f"embedding dependency missing: {exc}") from exc
        table = map_safetensors(weights, TENSOR_KEY)
        tokenizer = Tokenizer.from_file(str(tokenizer_path))
        tokenizer.no_padding()
        tokenizer.no_truncation()
        return cls(table, tokenizer)

    def _token_ids(self, text: str) -> np.ndarray:
        encoding = self._tokenizer.encode(text, add_special_tokens=False)  # type: ignore[attr-defined]
        return np.clip(np.asarray(encoding.ids, dtype=np.int64), 0, self._table.shape[0] - 1)

    def _embed_one(self, text: str) -> np.ndarray:
        ids = self._token_ids(text)
        if not len(ids):
            vector = np.zeros(self.dimension, dtype=np.float32)
        else:
            vector = self._table[ids].astype(np.float32).mean(axis=0)
            norm = float(np.linalg.norm(vector))
            if norm > 0:
                vector = vector / norm
        vector.setflags(write=False)
        return vector

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors, one row per text (a row of zeros for a text with no tokens)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack([self._text_cache(text) for text in texts])

    def embed_words(self, words: Sequence[str]) -> np.ndarray:
        """Unit vectors for single words, cached separately from whole texts."""
        if not words:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack([self._word_cache(word) for word in words])

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two texts, in [-1, 1]."""
        va, vb = self._text_cache(a), self._text_cache(b)
        return float(va @ vb)


_lock = threading.Lock()
_embedder: StaticEmbedder | None = None
_load_failed: str | None = None


def get_embedder() -> StaticEmbedder | None:
    """The process-wide embedder, loaded on first call; ``None`` if the backend is missing."""
    global _embedder, _load_failed
    if _embedder is not None or _load_failed is not None:
        return _embedder
    with _lock:
        if _embedder is None and _load_failed is None:
            try:
                _embedder = StaticEmbedder.from_package()
            except EmbeddingUnavailableError as exc:
                _load_failed = str(exc)
                logger.warning("offline grader runs without embeddings: %s", exc)
    return _embedder


def require_embedder() -> StaticEmbedder:
    """Like :func:`get_embedder` but raises when the backend is missing."""
    embedder = get_embedder()
    if embedder is None:
        raise EmbeddingUnavailableError(_load_failed or "embedding backend unavailable")
    return embedder
