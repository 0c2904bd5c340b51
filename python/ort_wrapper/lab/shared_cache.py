"""The lab's ccache settings, with a shared second level: a Redis or HTTP server given by
``--cache-url`` or ``$ORT_BUILDER_CACHE_URL``, written into ccache's config as
``remote_storage`` (ccache >= 4.4; the local cache stays the first level).

The URL is untrusted: it is parsed into checked parts, probed before the build (reachable,
the password accepted, writes accepted), and only then written, rebuilt from its parts, into
a config file readable by its owner alone. A URL that fails any step leaves the build on the
local cache, with one warning that says why; the password never reaches a log or a record.
"""

from __future__ import annotations

import base64
import enum
import http.client
import logging
import os
import re
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import SplitResult, urlsplit

from ..escape import ccache_config_value, terminal_text
from ..files import atomic_file

__all__ = [
    "ENV_VAR",
    "CacheStats",
    "CacheUrl",
    "CacheUrlError",
    "Scheme",
    "SharedCache",
    "cache_url_setting",
    "ccache_config_text",
    "ccache_environment",
    "collect_stats",
    "parse_cache_url",
    "parse_print_stats",
    "probe",
    "write_ccache_config",
]

log = logging.getLogger(__name__)

ENV_VAR = "ORT_BUILDER_CACHE_URL"
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])$")
_CREDENTIAL = re.compile(r"^[A-Za-z0-9._~-]+$")  # nothing ccache would need percent-decoded
_HTTP_PATH = re.compile(r"^(?:/[A-Za-z0-9._~-]*)*$")
_REDIS_DB = re.compile(r"^(?:/[0-9]{0,5})?$")
_PROBE_TIMEOUT_S = 3.0


class CacheUrlError(ValueError):
    """Why a cache URL cannot be used (the message never holds its credentials)."""


class Scheme(enum.Enum):
    """ccache's network backends."""

    REDIS = "redis"
    HTTP = "http"


@dataclass(frozen=True)
class CacheUrl:
    """A checked shared-cache URL, in parts."""

    scheme: Scheme
    host: str
    port: int
    path: str  # redis: "" or "/DB"; http: the folder's path
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def _authority(self, credentials: str) -> str:
        return f"{self.scheme.value}://{credentials}{self.host}:{self.port}{self.path}"

    def redacted(self) -> str:
        """The URL for messages: credentials as ``***``."""
        return self._authority("***@" if self.password or self.username else "")

    def ccache_url(self) -> str:
        """The URL in ccache's form (``redis://[[USER:]PASSWORD@]HOST:PORT[/DB]``,
        ``http://[USER:PASSWORD@]HOST:PORT/PATH``), rebuilt from the checked parts."""
        if self.password is None:
            return self._authority("")
        user = f"{self.username}:" if self.username else ""
        return self._authority(f"{user}{self.password}@")


def _credentials(parts: SplitResult, scheme: Scheme) -> tuple[str | None, str | None]:
    """(username, password) as ccache reads them: for Redis a lone user part is the
    password (``redis://PASSWORD@HOST``); for HTTP both are needed."""
    user, password = parts.username, parts.password
    for value in (user, password):
        if value and not _CREDENTIAL.match(value):
            raise CacheUrlError(
                "the user name or password holds characters other than letters, digits and "
                "._~- (only these are written into ccache's URL as they are)"
            )
    if scheme is Scheme.REDIS and user and password is None:
        return None, user
    if scheme is Scheme.HTTP and bool(user) != bool(password):
        raise CacheUrlError("an http:// URL needs both a user name and a password, or neither")
    return user or None, password or None


def parse_cache_url(text: str) -> CacheUrl:
    """``text`` checked and split; raises :class:`CacheUrlError` saying what is wrong."""
    if text != text.strip() or any(c.isspace() or not c.isprintable() for c in text):
        raise CacheUrlError("the URL holds spaces or control characters")
    parts = urlsplit(text)
    try:
        scheme = Scheme(parts.scheme.lower())
    except ValueError:
        shown = terminal_text(parts.scheme[:20]) or "none"
        raise CacheUrlError(
            f"the scheme {shown!r} is not one of ccache's network backends: use redis://HOST:PORT "
            "or http://HOST:PORT/PATH (ccache has no TLS: https:// and rediss:// are refused)"
        ) from None
    if parts.query or parts.fragment or "|" in text:
        raise CacheUrlError("the URL has a query, a fragment or '|' attributes: none is taken")
    host, port, path = _location(parts, scheme)
    user, password = _credentials(parts, scheme)
    return CacheUrl(scheme, host, port, path, user, password)


def _location(parts: SplitResult, scheme: Scheme) -> tuple[str, int, str]:
    """The host (an IPv6 address in brackets), the port (the scheme's default when none is
    given) and the path (Redis: ``/DB``) of ``parts``, checked."""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if not _HOST.match(host):
        raise CacheUrlError("the URL names no valid host")
    try:
        port = parts.port or (6379 if scheme is Scheme.REDIS else 80)
    except ValueError:
        raise CacheUrlError("the URL's port is not a number from 1 to 65535") from None
    path = parts.path.rstrip("/") if scheme is Scheme.HTTP else parts.path
    if not (_REDIS_DB if scheme is Scheme.REDIS else _HTTP_PATH).match(path):
        what = "a database number" if scheme is Scheme.REDIS else "a plain path"
        raise CacheUrlError(f"the URL's path is not {what}")
    return host, port, path.rstrip("/")


def _resp(*args: str) -> bytes:
    """A Redis command in RESP."""
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _reply(stream: BinaryIO) -> str:
    """One reply line (a status, an error or an integer), safe to show."""
    line = stream.readline(512)
    if not line.endswith(b"\r\n"):
        raise OSError("the server closed the connection or answered no Redis reply")
    return terminal_text(line[:-2].decode("utf-8", "replace"))


def _redis_problem(url: CacheUrl, timeout: float) -> str | None:
    address = (url.host.strip("[]"), url.port)
    with socket.create_connection(address, timeout=timeout) as sock, sock.makefile("rb") as stream:

        def ask(*args: str) -> str:
            sock.sendall(_resp(*args))
            return _reply(stream)

        if url.password is not None:
            auth = [url.username] if url.username else []
            answer = ask("AUTH", *auth, url.password)
            if not answer.startswith("+"):
                why = "the server refused the user name or password given in the URL"
                return f"{why} ({answer[:80]!r})"
        answer = ask("PING")
        if answer.startswith("-NOAUTH"):
            return "the server requires a password, and the URL gives none"
        if not answer.startswith("+"):
            return f"the server answered PING with {answer[:80]!r}"
        if url.path.strip("/") and not ask("SELECT", url.path.strip("/")).startswith("+"):
            return f"the server has no database {url.path.strip('/')}"
        key = f"ort-builder:probe:{secrets.token_hex(8)}"
        answer = ask("SET", key, "1", "PX", "60000")
        if not answer.startswith("+"):
            return f"the server does not accept writes ({answer[:80]!r}): it is read-only"
        ask("DEL", key)
    return None


def _http_problem(url: CacheUrl, timeout: float) -> str | None:
    connection = http.client.HTTPConnection(url.host.strip("[]"), url.port, timeout=timeout)
    headers = {"Content-Type": "application/octet-stream"}
    if url.password is not None:
        token = base64.b64encode(f"{url.username}:{url.password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    target = f"{url.path}/ort-builder-probe-{secrets.token_hex(8)}"
    try:
        connection.request("PUT", target, body=b"1", headers=headers)
        status = connection.getresponse()
        status.read()
        if status.status in (401, 407):
            return f"the server requires credentials (HTTP {status.status})"
        if status.status // 100 != 2:
            return f"the server does not accept writes (HTTP {status.status}): it is read-only"
        connection.request("DELETE", target, headers=headers)
        connection.getresponse().read()
    finally:
        connection.close()
    return None


def probe(url: CacheUrl, timeout: float = _PROBE_TIMEOUT_S) -> str | None:
    """Why the server at ``url`` cannot serve as ccache's shared storage (None when it can):
    unreachable, a password required or refused, or writes refused. A probe key is written
    and deleted (Redis: with a 60 s expiry; HTTP: PUT then DELETE)."""
    check = _redis_problem if url.scheme is Scheme.REDIS else _http_problem
    try:
        return check(url, timeout)
    except (OSError, http.client.HTTPException) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return f"cannot reach the server: {terminal_text(reason or type(exc).__name__)}"


@dataclass(frozen=True)
class SharedCache:
    """The shared cache of one build: ``url`` when it is used, else ``problem`` says why
    not (both None when none was asked for)."""

    url: CacheUrl | None = None
    problem: str | None = None

    @classmethod
    def resolve(cls, setting: str | None, *, timeout: float = _PROBE_TIMEOUT_S) -> SharedCache:
        """Parse and probe ``setting`` (the option, or ``$ORT_BUILDER_CACHE_URL``); when it
        cannot be used, warn once and return one that is not."""
        if not setting:
            return cls()
        try:
            url = parse_cache_url(setting)
        except CacheUrlError as exc:
            return cls._unused(f"the cache URL is refused: {exc}")
        problem = probe(url, timeout)
        if problem:
            return cls._unused(problem, url)
        log.info("shared compiler cache: %s", url.redacted())
        return cls(url)

    @classmethod
    def _unused(cls, problem: str, url: CacheUrl | None = None) -> SharedCache:
        where = f" ({url.redacted()})" if url else ""
        log.warning(
            "the shared compiler cache%s is NOT used: %s; building with the local ccache only",
            where,
            problem,
        )
        return cls(None, problem)

    def describe(self) -> str:
        """One line for logs and summaries (credentials redacted)."""
        if self.url:
            return f"shared cache {self.url.redacted()}"
        return f"shared cache not used: {self.problem}" if self.problem else "no shared cache"


def cache_url_setting(option: str | None) -> str | None:
    """The shared cache asked for: ``--cache-url`` when given (an empty one turns it off),
    else ``$ORT_BUILDER_CACHE_URL``."""
    return option if option is not None else os.environ.get(ENV_VAR)


def ccache_environment(base_dir: str, cache_dir: str, config_path: str) -> dict[str, str]:
    """ccache's environment in the lab: the local cache (first level) at ``cache_dir``,
    absolute paths under ``base_dir`` hashed relative to the working directory, and the
    config file (:func:`ccache_config_text`) at ``config_path``, which also replaces any
    system-wide ccache.conf."""
    return {
        "CCACHE_DIR": cache_dir,
        "CCACHE_BASEDIR": base_dir,
        "CCACHE_MAXSIZE": "4G",
        "CCACHE_CONFIGPATH": config_path,
    }


def ccache_config_text(shared: SharedCache) -> str:
    """The config file: ``remote_storage`` when the shared cache is used (ccache then
    reads the local cache first, the server second, and writes a local miss to both)."""
    text = "# written by `ort-wrapper build` for one build: the shared compiler cache\n"
    if shared.url:
        value = ccache_config_value(shared.url.ccache_url(), "the shared cache URL")
        text += f"remote_storage = {value}\n"
    return text


def write_ccache_config(path: Path, shared: SharedCache) -> Path:
    """Write :func:`ccache_config_text` to ``path``, readable by its owner only (it may hold
    the server's password)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(ccache_config_text(shared))
    return path


@dataclass(frozen=True)
class CacheStats:
    """ccache's counters over one build (``ccache --print-stats`` after ``--zero-stats``)."""

    local_hits: int = 0
    remote_hits: int = 0
    misses: int = 0
    remote_errors: int = 0  # errors and timeouts of the shared cache

    def as_timings(self) -> dict[str, float]:
        """The counters as entries of a lab result's ``timings``."""
        return {
            "ccache_local_hits": self.local_hits,
            "ccache_remote_hits": self.remote_hits,
            "ccache_misses": self.misses,
            "ccache_remote_errors": self.remote_errors,
        }

    def summary(self, shared: SharedCache) -> str:
        """One line: the hits of each level, the misses and the shared cache's state."""
        total = self.local_hits + self.remote_hits + self.misses
        rate = f"{100 * (self.local_hits + self.remote_hits) / total:.1f}%" if total else "-"
        errors = f", {self.remote_errors} shared-cache errors" if self.remote_errors else ""
        return (
            f"ccache: {self.local_hits} local hits, {self.remote_hits} remote hits, "
            f"{self.misses} misses (hit rate {rate}{errors}); {shared.describe()}"
        )


def parse_print_stats(text: str) -> CacheStats:
    """:class:`CacheStats` from ``ccache --print-stats`` (``ID<TAB>VALUE`` lines; the IDs of
    ccache 4.7 to 4.11)."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition("\t")
        if value.strip().isdigit():
            values[key.strip()] = int(value)
    return CacheStats(
        local_hits=values.get("local_storage_hit", 0),
        remote_hits=values.get("remote_storage_hit", 0),
        misses=values.get("cache_miss", 0),
        remote_errors=values.get("remote_storage_error", 0)
        + values.get("remote_storage_timeout", 0),
    )


def collect_stats(
    run: Callable[..., None], shared: SharedCache, log_file: Path | None = None
) -> CacheStats:
    """Run ``ccache --print-stats`` through ``run(argv, on_line=…)`` (``Chroot.run`` with
    ccache's settings) and report the result: a warning line for the user and the same line
    appended to ``log_file``."""
    lines: list[str] = []
    run(["ccache", "--print-stats"], on_line=lines.append)
    stats = parse_print_stats("".join(lines))
    line = stats.summary(shared)
    log.warning("%s", line)
    if log_file is not None:
        with open(log_file, "a") as sink:
            sink.write(line + "\n")
    return stats
