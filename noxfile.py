"""Developer sessions: `nox -s tests-core`, `nox -s tests`, `nox -s tests-latest`, `nox -s lint`,
`nox -s typing`, `nox -s docs`.

The README's `./dev.sh test` runs the full suite in one environment, installed from the lock
(requirements/dev.lock); these sessions split it the way a contributor needs (for example, the core
without any extra installed). `tests-latest` runs the suite against the newest versions that
pyproject.toml admits, so that an upstream release that breaks dubkit is seen before the lock is
refreshed; CI stays on the lock.
"""

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests-core", "lint", "typing", "docs"]

TORCH = "torch==2.13.0"  # always first: any other torch request pulls a CUDA build of several GB


def _install(session: nox.Session, *args: str) -> None:
    session.install("pip>=25.1")
    session.install(*args)


@nox.session(name="tests-core")
def tests_core(session: nox.Session) -> None:
    """The suite without any extra: backends that need one are skipped with the reason."""
    _install(session, "-e", ".", "--group", "test")
    session.install("--no-deps", "-e", "tests/plugins/sample_plugin", "-e", "tests/plugins/standin_plugin")
    session.run("pytest", "-p", "no:cacheprovider", "-m", "not models", *session.posargs)


def _heavy_extras(session: nox.Session, *args: str) -> None:
    env = {"VENV": session.virtualenv.location}
    session.run("bash", "scripts/install-heavy-extras.sh", *args, env=env, external=True)


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite with every extra, installed from the lock (what ./dev.sh test runs)."""
    session.run("python", "scripts/lock.py", "check-platform")
    session.install("--no-deps", "--require-hashes", "-r", "requirements/bootstrap.lock")
    session.install("--no-deps", "--require-hashes", "-r", "requirements/dev.lock")
    session.install("--no-deps", TORCH)
    session.install("--no-deps", "-e", ".")
    session.install("--no-deps", "-e", "tests/plugins/sample_plugin", "-e", "tests/plugins/standin_plugin")
    _heavy_extras(session, "--locked")
    session.run("python", "scripts/lock.py", "verify", "--venv", session.virtualenv.location)
    session.run("pytest", "-p", "no:cacheprovider", *session.posargs)


@nox.session(name="tests-latest")
def tests_latest(session: nox.Session) -> None:
    """The whole suite against the newest versions pyproject.toml admits (not the lock)."""
    session.install("--upgrade", "pip>=25.1")
    session.install(TORCH)
    session.install(
        "--upgrade",
        "--upgrade-strategy",
        "eager",
        "-e",
        ".[offline,nllb,mms,quality,voices,distributed,server,s3]",
        "--group",
        "dev",
    )
    _heavy_extras(session)
    session.install("--no-deps", "-e", "tests/plugins/sample_plugin", "-e", "tests/plugins/standin_plugin")
    session.run("ruff", "check", "src", "tests", "benchmarks")
    session.run("mypy", "src")
    session.run("pytest", "-p", "no:cacheprovider", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, mypy --strict on src, import-linter's layer contracts."""
    _install(session, "-e", ".", "--group", "lint")
    session.run("ruff", "check", "src", "tests", "benchmarks")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks")
    session.run("mypy", "src")
    session.run("lint-imports")


@nox.session
def typing(session: nox.Session) -> None:
    """Examples of public-API use in tests/typing type-check under mypy --strict."""
    _install(session, "-e", ".", "--group", "lint")
    session.run("mypy", "--strict", "tests/typing")


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site builds without warnings."""
    _install(session, "-e", ".", "--group", "docs")
    session.run("mkdocs", "build", "--strict", "--site-dir", str(session.create_tmp() + "/site"))
