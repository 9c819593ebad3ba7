"""The exceptions dubkit raises: one tree, rooted at `DubkitError`.

Every error carries structured fields (never only a message), so a CLI, a server or a notebook can
react to it without parsing text. Third-party errors are translated at the boundary with
``raise ... from``, so the original stays available as ``__cause__``.

```text
DubkitError
├── ConfigError                   an invalid option, value or combination, found before any work
│   ├── UnknownLanguageError      a language code dubkit or a backend does not support
│   ├── UnsupportedLanguagePairError
│   └── SegmentNotFoundError      a line or sentence id the dub project does not have
├── BackendError
│   ├── UnknownBackendError       no backend registered under that name (lists the known ones)
│   ├── BackendUnavailableError   registered, but its optional dependency is missing (install hint)
│   ├── BackendValidationError    a plugin that breaks its protocol or plugin API version
│   ├── BackendConflictError      two distributions claim one backend name
│   └── BackendRuntimeError       a backend failed while working on a unit (segment, chunk)
│       └── UnspeakableTextError  a voice cannot say a line (nothing speakable, or not its language)
├── MediaError                    anything about an input or output media file
│   ├── FFmpegNotFoundError       ffmpeg/ffprobe missing (install hint)
│   ├── NotMediaError             the bytes are not a media file dubkit accepts
│   ├── UnsupportedFormatError    a container or codec outside the allow-lists
│   ├── CorruptMediaError         truncated or undecodable
│   ├── NoAudioStreamError        nothing to dub
│   ├── MediaLimitError           over a configured limit (size, duration, resolution, fps, streams)
│   │   └── UploadTooLargeError   an upload body over the server's size cap (HTTP 413)
│   └── FFmpegError               an ffmpeg run failed or timed out
├── StageError                    a stage failed; carries the stage name and the cause
├── StorageError                  reading or writing through the storage layer failed
├── JobError                      a job could not be created, claimed or updated
│   ├── JobNotFoundError
│   └── JobStateError             the job is not in a state that allows this (not completed yet)
└── CancelledError                the run was cancelled through its cancel token
```
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "BackendConflictError",
    "BackendError",
    "BackendRuntimeError",
    "BackendUnavailableError",
    "BackendValidationError",
    "CancelledError",
    "ConfigError",
    "CorruptMediaError",
    "DubkitError",
    "FFmpegError",
    "FFmpegNotFoundError",
    "JobError",
    "JobNotFoundError",
    "JobStateError",
    "MediaError",
    "MediaLimitError",
    "NoAudioStreamError",
    "NotMediaError",
    "SegmentNotFoundError",
    "StageError",
    "StorageError",
    "UnknownBackendError",
    "UnknownLanguageError",
    "UnsupportedFormatError",
    "UnspeakableTextError",
    "UnsupportedLanguagePairError",
    "UploadTooLargeError",
]


def _listing(items: Sequence[str], limit: int = 40) -> str:
    shown = ", ".join(items[:limit])
    more = len(items) - limit
    return f"{shown}, ... ({more} more)" if more > 0 else shown


class DubkitError(Exception):
    """Base class of every error dubkit raises.

    Attributes:
        message: A human-readable explanation.
        hint: What the user can do about it, or ``None``.
    """

    code: str = "dubkit_error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def to_dict(self) -> dict[str, object]:
        """Structured fields of this error, for logs, JSON and HTTP problem details."""
        fields = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        return {"code": self.code, "type": type(self).__name__, **fields}


# --- configuration -------------------------------------------------------------------------------


class ConfigError(DubkitError):
    """An invalid option, value or combination, found before any media is touched.

    Attributes:
        field: The option at fault, when one is.
    """

    code = "config_error"

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field = field


class UnknownLanguageError(ConfigError):
    """A language code that is not supported (by dubkit, or by the backend named in ``backend``)."""

    code = "unknown_language"

    def __init__(self, language: str, supported: Sequence[str], *, backend: str | None = None) -> None:
        where = f" by backend {backend!r}" if backend else ""
        super().__init__(
            f"language {language!r} is not supported{where}",
            field="language",
            hint=f"supported: {_listing(sorted(supported))}",
        )
        self.language = language
        self.supported = sorted(supported)
        self.backend = backend


class UnsupportedLanguagePairError(ConfigError):
    """A translator (with ``backend="auto"``: every installed one) cannot translate ``source`` -> ``target``.

    Attributes:
        source: The source language.
        target: The target language.
        backend: The translator, or ``auto`` when dubkit was choosing one.
        supported: The pairs (``en-es``) the translator offers.
        reachable: The targets that can be reached from ``source``, when known.
        install: What to install to add the pair, when known.
    """

    code = "unsupported_language_pair"

    def __init__(
        self,
        source: str,
        target: str,
        backend: str,
        supported: Sequence[str],
        *,
        install: str | None = None,
        reachable: Sequence[str] | None = None,
    ) -> None:
        who = f"translator {backend!r} cannot" if backend != "auto" else "no installed translator can"
        hints = []
        if reachable is not None:
            hints.append(f"reachable targets from {source!r}: {_listing(sorted(reachable)) or 'none'}")
        else:
            hints.append(f"supported pairs: {_listing(sorted(supported))}")
        if install:
            hints.append(f"to add {source} -> {target}: {install}")
        super().__init__(
            f"{who} translate {source!r} -> {target!r}", field="target_language", hint="; ".join(hints)
        )
        self.source = source
        self.target = target
        self.backend = backend
        self.supported = sorted(supported)
        self.reachable = sorted(reachable) if reachable is not None else None
        self.install = install


# --- backends ------------------------------------------------------------------------------------


class SegmentNotFoundError(ConfigError):
    """A line (segment) or sentence id that the dub project does not have.

    Attributes:
        segment_id: The id asked for.
    """

    code = "segment_not_found"

    def __init__(self, segment_id: str) -> None:
        super().__init__(
            f"the dub has no line {segment_id!r}",
            field="segment_id",
            hint="use an id from GET /jobs/{job_id}/segments",
        )
        self.segment_id = segment_id


class BackendError(DubkitError):
    """Base class of backend errors.

    Attributes:
        kind: The capability (``transcriber``, ``translator``, ...).
        name: The registered backend name.
    """

    code = "backend_error"

    def __init__(self, message: str, *, kind: str, name: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.kind = kind
        self.name = name


class UnknownBackendError(BackendError):
    """No backend of this kind is registered under this name."""

    code = "unknown_backend"

    def __init__(self, kind: str, name: str, known: Sequence[str]) -> None:
        super().__init__(
            f"no {kind} named {name!r}",
            kind=kind,
            name=name,
            hint=f"known {kind}s: {_listing(sorted(known)) or 'none'}",
        )
        self.known = sorted(known)


class BackendUnavailableError(BackendError):
    """The backend is registered but cannot be used here (a missing extra, binary or model)."""

    code = "backend_unavailable"

    def __init__(self, kind: str, name: str, reason: str, *, install: str | None = None) -> None:
        super().__init__(
            f"{kind} {name!r} is unavailable: {reason}",
            kind=kind,
            name=name,
            hint=f"install it with: {install}" if install else None,
        )
        self.reason = reason
        self.install = install


class BackendValidationError(BackendError):
    """A backend (usually a plugin) does not satisfy its protocol or plugin API version."""

    code = "backend_invalid"

    def __init__(self, kind: str, name: str, problems: Sequence[str], *, source: str | None = None) -> None:
        where = f" (from {source})" if source else ""
        super().__init__(
            f"{kind} {name!r}{where} is not a valid {kind}: " + "; ".join(problems), kind=kind, name=name
        )
        self.problems = list(problems)
        self.source = source


class BackendConflictError(BackendError):
    """Two or more distributions register a backend under the same name."""

    code = "backend_conflict"

    def __init__(self, kind: str, name: str, distributions: Sequence[str]) -> None:
        super().__init__(
            f"{kind} name {name!r} is claimed by several distributions: {', '.join(distributions)}",
            kind=kind,
            name=name,
            hint="uninstall one of them",
        )
        self.distributions = list(distributions)


class BackendRuntimeError(BackendError):
    """A backend failed while processing one unit of work (a segment, a chunk)."""

    code = "backend_failed"

    def __init__(self, message: str, *, kind: str, name: str, unit: str | None = None) -> None:
        super().__init__(message, kind=kind, name=name)
        self.unit = unit


class UnspeakableTextError(BackendRuntimeError):
    """A voice cannot say a line; another synthesizer may still say it.

    Nothing speakable is left after cleaning (empty, symbols only), or the voice lacks the language.

    Attributes:
        text: The line.
        language: The language it was to be spoken in.
        reason: ``empty``, ``no_phonemes`` or ``language``.
    """

    code = "unspeakable_text"

    def __init__(
        self, text: str, language: str, reason: str, *, kind: str, name: str, detail: str = ""
    ) -> None:
        what = {
            "empty": "nothing speakable is left after cleaning",
            "no_phonemes": "none of its sounds are in the voice's vocabulary",
            "language": f"the voice does not speak {language!r}",
        }.get(reason, reason)
        message = f"{name} cannot say {text[:80]!r}: {what}" + (f" ({detail})" if detail else "")
        super().__init__(message, kind=kind, name=name)
        self.text = text
        self.language = language
        self.reason = reason


# --- media ---------------------------------------------------------------------------------------


class MediaError(DubkitError):
    """Base class of media errors.

    Attributes:
        path: The file concerned, as given (never its content).
    """

    code = "media_error"

    def __init__(self, message: str, *, path: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.path = path


class FFmpegNotFoundError(MediaError):
    """ffmpeg or ffprobe is not installed or not on PATH."""

    code = "ffmpeg_missing"

    def __init__(self, binary: str) -> None:
        super().__init__(
            f"{binary} was not found on PATH",
            hint="install it: apt-get install ffmpeg (Debian/Ubuntu), brew install ffmpeg (macOS)",
        )
        self.binary = binary


class NotMediaError(MediaError):
    """The file is not a media file of an accepted container format."""

    code = "not_media"


class UnsupportedFormatError(MediaError):
    """The container or a codec is outside dubkit's allow-lists."""

    code = "unsupported_format"

    def __init__(self, message: str, *, path: str | None = None, format_name: str | None = None) -> None:
        super().__init__(message, path=path)
        self.format_name = format_name


class CorruptMediaError(MediaError):
    """The file is truncated or cannot be decoded."""

    code = "corrupt_media"


class NoAudioStreamError(MediaError):
    """The file has no audio stream, so there is nothing to dub."""

    code = "no_audio"


class MediaLimitError(MediaError):
    """The file is over a configured limit.

    Attributes:
        limit: Which limit (``size``, ``duration``, ``width``, ``height``, ``fps``, ``streams``).
        value: The file's value.
        maximum: The configured maximum.
    """

    code = "media_limit"

    def __init__(self, limit: str, value: float, maximum: float, *, path: str | None = None) -> None:
        if limit == "size":
            message = f"the file is {value / 2**20:.1f} MiB, over the limit of {maximum / 2**20:.1f} MiB"
        else:
            message = f"{limit} {value:g} is over the limit of {maximum:g}"
        super().__init__(message, path=path)
        self.limit = limit
        self.value = value
        self.maximum = maximum
        if limit == "size" and not self.hint:
            self.hint = "raise it with DUBKIT_MAX_UPLOAD_BYTES (bytes), or PipelineConfig(max_file_bytes=...)"


class UploadTooLargeError(MediaLimitError):
    """An upload's body is over the server's size cap (rejected while reading, before the rest arrives).

    Attributes:
        value: Bytes received (or announced by ``Content-Length``) when the upload was refused.
        maximum: The cap in bytes.
    """

    code = "upload_too_large"

    def __init__(self, received: int, maximum: int) -> None:
        super().__init__("upload", float(received), float(maximum))
        self.message = f"the upload is over the limit of {maximum} bytes"
        self.hint = "send a smaller file"


class FFmpegError(MediaError):
    """An ffmpeg or ffprobe run failed or timed out.

    Attributes:
        returncode: The exit status, or ``None`` when it was killed on timeout.
        stderr_tail: The last lines ffmpeg printed (never file contents).
        timed_out: Whether the wall-clock limit killed it.
    """

    code = "ffmpeg_failed"

    def __init__(
        self,
        message: str,
        *,
        returncode: int | None = None,
        stderr_tail: str = "",
        timed_out: bool = False,
        path: str | None = None,
    ) -> None:
        super().__init__(message, path=path)
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        self.timed_out = timed_out


# --- pipeline, storage, jobs ---------------------------------------------------------------------


class StageError(DubkitError):
    """A pipeline stage failed.

    Attributes:
        stage: The stage's name.
    """

    code = "stage_failed"

    def __init__(self, stage: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"stage {stage!r} failed: {message}", hint=hint)
        self.stage = stage


class StorageError(DubkitError):
    """Reading or writing through the storage layer failed.

    Attributes:
        url: The storage location concerned.
    """

    code = "storage_error"

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class JobError(DubkitError):
    """A job could not be created, claimed or updated.

    Attributes:
        job_id: The job concerned, when there is one.
    """

    code = "job_error"

    def __init__(self, message: str, *, job_id: str | None = None) -> None:
        super().__init__(message)
        self.job_id = job_id


class JobNotFoundError(JobError):
    """No job with this id is visible to the caller."""

    code = "job_not_found"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id!r} not found", job_id=job_id)


class JobStateError(JobError):
    """The job is not in a state that allows this request (its result is asked for before it completed).

    Attributes:
        status: The job's status when asked.
    """

    code = "job_state"

    def __init__(self, job_id: str, status: str, wanted: str) -> None:
        super().__init__(f"job {job_id!r} is {status}; {wanted}", job_id=job_id)
        self.status = status


class CancelledError(DubkitError):
    """The run was cancelled through its cancel token.

    Attributes:
        stage: The stage that noticed the cancellation, when known.
    """

    code = "cancelled"

    def __init__(self, stage: str | None = None) -> None:
        super().__init__("the run was cancelled" + (f" during stage {stage!r}" if stage else ""))
        self.stage = stage
