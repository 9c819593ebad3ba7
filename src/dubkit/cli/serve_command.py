"""``dubkit serve``: the reference HTTP server (extra ``server``) on uvicorn."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Optional

import typer

from dubkit.cli import app, console, fail
from dubkit.errors import ConfigError, DubkitError

__all__ = ["is_loopback", "serve"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8000,
    data_dir: Annotated[
        Optional[Path], typer.Option(help="Job store, local files and work folders.")  # noqa: UP045
    ] = None,
    storage: Annotated[Optional[str], typer.Option(help="Storage URL (file:///..., s3://...).")] = None,  # noqa: UP045
    broker: Annotated[
        Optional[str], typer.Option(help="Redis URL: hand jobs to `dubkit worker`s instead of dubbing here.")  # noqa: UP045
    ] = None,
    workers: Annotated[Optional[int], typer.Option(min=1, max=64, help="In-process runner threads.")] = None,  # noqa: UP045
    config: Annotated[
        Optional[Path], typer.Option(help="Pipeline settings as JSON (backend names and options).")  # noqa: UP045
    ] = None,
    hash_key: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--hash-key",
            metavar="OWNER",
            help="Print a new API key for OWNER and its DUBKIT_API_KEYS entry, then exit.",
        ),
    ] = None,
) -> None:
    """Serve the API and the web page (without API keys: one local user, on localhost only)."""
    try:
        from dubkit.server import ServerSettings, create_app, hash_api_key, new_api_key
    except ImportError as exc:
        raise fail(
            ConfigError(f"the server needs its extra: {exc}", hint="pip install 'dubkit[server]'")
        ) from None
    if hash_key is not None:
        try:
            key = new_api_key()
            entry = hash_api_key(hash_key, key)
        except DubkitError as exc:
            raise fail(exc) from None
        console.print(f"API key for {hash_key} (give it to them; it is not stored): {key}", soft_wrap=True)
        console.print(f"DUBKIT_API_KEYS entry (the server keeps only this hash): {entry}", soft_wrap=True)
        return
    overrides: dict[str, object] = {}
    for name, value in (
        ("data_dir", data_dir),
        ("storage_url", storage),
        ("broker_url", broker),
        ("runner_workers", workers),
        ("pipeline_config", config),
    ):
        if value is not None:
            overrides[name] = value
    try:
        settings = ServerSettings(**overrides)  # type: ignore[arg-type]
        if not settings.api_keys and not is_loopback(host):
            raise ConfigError(
                f"refusing to listen on {host}: no API keys are configured, so anyone who can reach it "
                "would use the server as the single local user",
                field="host",
                hint="listen on 127.0.0.1, or set DUBKIT_API_KEYS (dubkit serve --hash-key NAME makes one)",
            )
        application = create_app(settings)
    except DubkitError as exc:
        raise fail(exc) from None
    import uvicorn

    shown = f"[{host}]" if ":" in host else host
    mode = (
        f"jobs go to workers via {settings.broker_url}" if settings.broker_url else "dubbing in this process"
    )
    who = "API keys required" if settings.api_keys else "single local user, no key needed"
    console.print(f"dubkit server on http://{shown}:{port}/ ({who}; {mode}); Ctrl-C to stop", soft_wrap=True)
    uvicorn.run(application, host=host, port=port, log_level="info", proxy_headers=False)
