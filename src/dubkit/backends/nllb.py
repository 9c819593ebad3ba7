"""The ``nllb`` translator: Meta's NLLB-200 (or any M2M100-family seq2seq model) through transformers.

The model loads by hub name (``facebook/nllb-200-distilled-600M`` by default, fetched once into the
Hugging Face cache) or from a local directory saved with ``save_pretrained``. dubkit's ISO 639-1 codes
map to NLLB's FLORES-200 codes (``es`` -> ``spa_Latn``) through `dubkit.models.languages`; the
pairs offered are every pair among the languages whose code the tokenizer knows. ``n_best`` comes
from beam search with ``num_return_sequences``.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Collection, Iterator, Sequence
from itertools import permutations
from pathlib import Path
from typing import Any

import attrs

from dubkit.backends.base import BaseTranslator
from dubkit.backends.devices import DeviceBackendMixin, check_device_option, torch_dtype_name
from dubkit.backends.protocols import TranslationCandidate
from dubkit.errors import (
    BackendRuntimeError,
    BackendUnavailableError,
    UnknownLanguageError,
    UnsupportedLanguagePairError,
)
from dubkit.models.languages import LANGUAGES, get_language, language_codes

__all__ = ["NLLBTranslator"]

_KIND, _NAME = "translator", "nllb"
_HUB_CHECK_SECONDS = 300.0
_INSTALL = "pip install 'dubkit[nllb]'"


def _known_codes(tokens: Collection[str]) -> frozenset[str]:
    """The dubkit languages whose NLLB code is one of ``tokens``."""
    return frozenset(lang.code for lang in LANGUAGES if lang.nllb and lang.nllb in tokens)


_NLLB_CODES = frozenset(lang.code for lang in LANGUAGES if lang.nllb)


def _tokens_in_files(directory: Path) -> frozenset[str] | None:
    """Tokens of a saved ``tokenizer.json``, read without transformers; ``None`` if there is none."""
    path = directory / "tokenizer.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    tokens = {t.get("content", "") for t in data.get("added_tokens", ()) if isinstance(t, dict)}
    vocab = data.get("model", {}).get("vocab", ())
    if isinstance(vocab, dict):
        tokens.update(vocab)
    elif isinstance(vocab, list):
        tokens.update(str(v[0]) for v in vocab if isinstance(v, list) and v)
    return frozenset(tokens)


def _batches(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class NLLBTranslator(DeviceBackendMixin, BaseTranslator["NLLBTranslator.Options"]):
    """NLLB-200 translation with n-best candidates, in batches."""

    runtime = "torch"

    @attrs.frozen
    class Options:
        """Options.

        Attributes:
            model: A model name on the Hugging Face hub, or a local directory saved with
                ``save_pretrained`` (model and tokenizer together).
            device: ``auto`` (a CUDA GPU when torch sees one, else the CPU), ``cpu``, ``cuda``, ``cuda:1``.
            dtype: ``auto`` (``float16`` on CUDA, ``float32`` on the CPU) or a torch dtype name.
            max_length: Longest input and output, in tokens (longer inputs are truncated).
            num_beams: Beam width (raised to ``n_best`` when more candidates are asked for).
            batch_size: Lines per generate() call.
            local_files_only: Never contact the hub; use the cache or the local directory only.
            cache_dir: Where hub downloads are cached (the Hugging Face default when unset).
        """

        model: str = "facebook/nllb-200-distilled-600M"
        device: str = attrs.field(default="auto", validator=check_device_option)
        dtype: str = "auto"
        max_length: int = 256
        num_beams: int = 4
        batch_size: int = 16
        local_files_only: bool = False
        cache_dir: str | None = None

    _model: Any = None
    _tokenizer: Any = None
    _torch: Any = None
    _device: str = "cpu"
    _codes: frozenset[str] | None = None

    def language_pairs(self) -> Collection[tuple[str, str]] | None:
        """Every (source, target) pair of distinct languages the tokenizer has a code for.

        Before ``load()``: read from a local model's ``tokenizer.json`` when there is one, else the
        NLLB-200 set (it covers every language dubkit knows).
        """
        codes = self._codes
        if codes is None:
            local = Path(self.options.model)
            tokens = _tokens_in_files(local) if local.is_dir() else None
            codes = _known_codes(tokens) if tokens is not None else _NLLB_CODES
        return frozenset(permutations(sorted(codes), 2))

    _hub_checked: tuple[float, bool] | None = None

    def model_location(self) -> str | None:
        """Where the model is: ``"local"``, ``"hub"`` (can be fetched now) or ``None`` (cannot be had).

        ``"local"``: a local folder with ``config.json``, or the hub model already in the Hugging Face
        cache. ``"hub"``: not cached, but the hub answers (asked once every 5 minutes, 3 s at most) and
        neither ``local_files_only`` nor ``HF_HUB_OFFLINE`` forbids it. Nothing is downloaded here.
        """
        opts = self.options
        local = Path(opts.model).expanduser()
        if local.is_dir():
            return "local" if (local / "config.json").is_file() else None
        try:
            from huggingface_hub import constants, try_to_load_from_cache
        except ImportError:
            return None
        try:
            cached = try_to_load_from_cache(opts.model, "config.json", cache_dir=opts.cache_dir)
        except ValueError:  # not a valid repository name
            return None
        if isinstance(cached, str):
            return "local"
        if opts.local_files_only or constants.HF_HUB_OFFLINE:
            return None
        return "hub" if self._hub_answers(constants.ENDPOINT) else None

    def model_hint(self) -> str:
        """What to do when the model cannot be had (see `model_location`)."""
        return (
            f"put the NLLB model {self.options.model!r} in the Hugging Face cache "
            f"(huggingface-cli download {self.options.model}) or set translator.model to a local folder"
        )

    def _hub_answers(self, endpoint: str) -> bool:
        now = time.monotonic()
        if self._hub_checked is not None and now - self._hub_checked[0] < _HUB_CHECK_SECONDS:
            return self._hub_checked[1]
        url = f"{endpoint.rstrip('/')}/api/models/{urllib.parse.quote(self.options.model)}"
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=3):  # noqa: S310
                answers = True
        except urllib.error.HTTPError as exc:
            answers = exc.code < 500 and exc.code != 404
        except (OSError, ValueError):
            answers = False
        self._hub_checked = (now, answers)
        return answers

    def _load(self) -> None:
        try:
            import torch  # noqa: TID251
            from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
        except ImportError as exc:
            raise BackendUnavailableError(
                _KIND, _NAME, f"cannot import transformers/torch: {exc}", install=_INSTALL
            ) from exc
        opts = self.options
        device = self._resolve_device()
        try:
            tokenizer = AutoTokenizer.from_pretrained(
                opts.model, local_files_only=opts.local_files_only, cache_dir=opts.cache_dir
            )
            model = AutoModelForSeq2SeqLM.from_pretrained(
                opts.model, local_files_only=opts.local_files_only, cache_dir=opts.cache_dir
            )
        except (OSError, ValueError) as exc:
            raise BackendUnavailableError(
                _KIND,
                _NAME,
                f"cannot load translation model {opts.model!r} ({exc}); name a model the hub can serve, "
                "or set the model option to a local directory saved with save_pretrained",
            ) from exc
        dtype = torch_dtype_name(opts.dtype, device)
        model.to(device=device, dtype=getattr(torch, dtype))
        model.eval()
        self._device = device
        self._set_device_use(device, dtype)
        vocab = set(tokenizer.get_vocab())
        vocab.update(getattr(tokenizer, "all_special_tokens", ()))
        self._torch, self._tokenizer, self._model = torch, tokenizer, model
        self._codes = _known_codes(vocab)

    def _close(self) -> None:
        self._model = None
        self._tokenizer = None
        self._torch = None
        self._codes = None

    def _nllb_code(self, code: str, source: str, target: str) -> str:
        language = get_language(code)  # UnknownLanguageError for codes dubkit does not know
        assert self._codes is not None
        if language.code not in self._codes:
            pairs = [f"{s}-{t}" for s, t in sorted(self.language_pairs() or ())]
            raise UnsupportedLanguagePairError(source, target, _NAME, pairs)
        return language.nllb

    def translate(
        self, texts: Sequence[str], source: str, target: str, n_best: int
    ) -> Sequence[Sequence[str | TranslationCandidate]]:
        """Translate lines; each gets up to ``n_best`` distinct candidates, best first (at least one).

        Raises:
            UnknownLanguageError: ``source`` or ``target`` is not a language dubkit knows.
            UnsupportedLanguagePairError: the model has no code for one of them.
            BackendRuntimeError: generation failed.
        """
        self.load()
        if not source or not target:
            raise UnknownLanguageError(source or target, language_codes(), backend=_NAME)
        src, tgt = self._nllb_code(source, source, target), self._nllb_code(target, source, target)
        n = max(1, n_best)
        results: list[list[str]] = [[""] for _ in texts]
        todo = [i for i, text in enumerate(texts) if text.strip()]
        # Similar lengths batch together: less padding, less work.
        todo.sort(key=lambda i: len(texts[i]))
        for batch in _batches(todo, max(1, self.options.batch_size)):
            try:
                with self._lock:  # the tokenizer's src_lang is shared state
                    outputs = self._generate([texts[i].strip() for i in batch], src, tgt, n)
            except (RuntimeError, ValueError, IndexError) as exc:
                raise BackendRuntimeError(
                    f"translation failed: {exc}", kind=_KIND, name=_NAME, unit=f"lines {batch[0]}-{batch[-1]}"
                ) from exc
            for i, candidates in zip(batch, outputs, strict=True):
                results[i] = candidates
        return results

    def _generate(self, lines: list[str], src: str, tgt: str, n: int) -> list[list[str]]:
        tok, model, opts = self._tokenizer, self._model, self.options
        tok.src_lang = src
        enc = tok(lines, return_tensors="pt", padding=True, truncation=True, max_length=opts.max_length)
        enc = {k: v.to(self._device) for k, v in enc.items()}
        with self._torch.inference_mode():
            generated = model.generate(
                **enc,
                forced_bos_token_id=tok.convert_tokens_to_ids(tgt),
                num_beams=max(opts.num_beams, n),
                num_return_sequences=n,
                max_length=opts.max_length,
                do_sample=False,
            )
        decoded = tok.batch_decode(generated, skip_special_tokens=True)
        out: list[list[str]] = []
        for j in range(len(lines)):
            seen = dict.fromkeys(d.strip() for d in decoded[j * n : (j + 1) * n])
            out.append([c for c in seen if c] or [""])
        return out
