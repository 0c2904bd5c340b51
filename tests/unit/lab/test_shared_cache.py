"""The lab's shared compiler cache on a real Redis server (Debian's ``redis-server``, started
here on loopback and stopped after): a small C++ project compiled through the lab's own ccache
settings (``ccache_environment`` + ``write_ccache_config``) on "machine A" and "machine B" (each
its own local cache and build folder, made the same to ccache by the base directory, as /lab is
in the chroot). B gets only remote hits and A's objects byte for byte (and so from an HTTP
cache, a small in-memory server here, with Basic credentials). A stopped server, a wrong
URL, a server wanting a password the URL lacks and a read-only server: the build still succeeds
on the local cache, and the warning says the shared cache was not used and why.
"""

from __future__ import annotations

import base64
import http.server
import logging
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ort_wrapper.lab.shared_cache import (
    CacheStats,
    CacheUrlError,
    Scheme,
    SharedCache,
    cache_url_setting,
    ccache_config_text,
    ccache_environment,
    collect_stats,
    parse_cache_url,
    write_ccache_config,
)

PROJECT = {
    "include/shapes.h": "#pragma once\nint area(int w, int h);\nconst char* where_area();\n",
    "src/area.cc": '#include "shapes.h"\nint area(int w, int h) { return w * h; }\n'
    "const char* where_area() { return __FILE__; }\n",
    "src/main.cc": '#include <cstdio>\n#include "shapes.h"\n'
    'int main() { std::printf("%d %s\\n", area(6, 7), where_area()); }\n',
    "src/table.cc": '#include "shapes.h"\n'
    "template <int N> struct T { static int f() { return N * T<N - 1>::f(); } };\n"
    "template <> struct T<0> { static int f() { return 1; } };\n"
    "int table() { return T<5>::f() + area(1, 2); }\n",
}
SOURCES = ("src/area.cc", "src/main.cc", "src/table.cc")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is required for the shared-cache tests (tools/setup.sh installs it)")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Redis:
    """A redis-server of this test's own, on loopback."""

    port: int
    process: subprocess.Popen[bytes]

    def url(self, credentials: str = "") -> str:
        return f"redis://{credentials}127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def _wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, "redis-server exited at start"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(64):
                    return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"redis-server did not answer on port {port}")


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[Callable[..., Redis]]:
    """Start redis-server (``*options`` added to its command line); all stopped after."""
    binary = _tool("redis-server")
    started: list[Redis] = []

    def start(*options: str) -> Redis:
        port = _free_port()
        folder = tmp_path / f"redis-{port}"
        folder.mkdir()
        argv = [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder),
                "--save", "", "--appendonly", "no", *options]  # fmt: skip
        log = open(folder / "redis.log", "wb")  # noqa: SIM115 - closed with the server
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=folder)
        log.close()
        server = Redis(port, process)
        started.append(server)
        _wait_ready(port, process)
        return server

    yield start
    for server in started:
        server.stop()


@dataclass(frozen=True)
class Machine:
    """One machine's view: its own local ccache, and the project under its own lab folder."""

    root: Path

    @property
    def lab(self) -> Path:
        return self.root / "lab"

    def build(self, shared: SharedCache) -> tuple[CacheStats, dict[str, bytes]]:
        """Compile the project through the lab's ccache settings; the stats and the objects."""
        for rel, text in PROJECT.items():
            (self.lab / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.lab / rel).write_text(text)
        build = self.lab / "build"
        build.mkdir(exist_ok=True)
        config = write_ccache_config(self.root / "ccache.conf", shared)
        settings = ccache_environment(str(self.lab), str(self.root / "ccache"), str(config))
        env = {"PATH": os.environ["PATH"], "HOME": str(self.root), "LANG": "C.UTF-8", **settings}
        # ccache's own record of what it hashes for each object (not a setting of the lab)
        env |= {"CCACHE_DEBUG": "1", "CCACHE_DEBUGDIR": str(self.root / "debug")}

        def run(argv: list[str], on_line: Callable[[str], None] | None = None) -> None:
            done = subprocess.run(argv, cwd=build, env=env, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            for line in done.stdout.splitlines(keepends=True):
                if on_line:
                    on_line(line)

        run(["ccache", "--zero-stats"])
        for source in SOURCES:  # absolute paths, as CMake gives them; base_dir makes them relative
            obj = build / (Path(source).stem + ".o")
            run(["ccache", "g++", "-O2", f"-I{self.lab}/include", "-MD", "-MF", f"{obj}.d",
                 "-c", str(self.lab / source), "-o", str(obj)])  # fmt: skip
        stats = collect_stats(run, shared, self.root / "build.log")
        run(["g++", "-o", "program", "area.o", "main.o"])
        program = subprocess.run([build / "program"], capture_output=True, text=True, check=True)
        assert program.stdout == "42 ../src/area.cc\n"  # no machine's path in the object
        objects = {p.name: p.read_bytes() for p in sorted(build.glob("*.o"))}
        return stats, objects

    def hashed(self) -> dict[str, str]:
        """Per object, what ccache hashed for its direct-mode lookup (``ccache-input-text``:
        the compiler's size and mtime, its name, LANG, the arguments, the input file as
        given, the source's hash), from the first build."""
        found = {}
        for path in sorted((self.root / "debug").rglob("*.ccache-input-text")):
            name = path.name.split(".o.")[0] + ".o"
            text = path.read_text().split("=== PREPROCESSOR MODE ===")[0]
            found.setdefault(name, text)
        return found


@pytest.fixture
def machines(tmp_path: Path) -> tuple[Machine, Machine]:
    _tool("ccache")
    _tool("g++")
    return Machine(tmp_path / "machine-a"), Machine(tmp_path / "another-machine-b")


def test_machine_b_gets_only_remote_hits_and_the_same_objects(
    redis: Callable[..., Redis], machines: tuple[Machine, Machine]
) -> None:
    server = redis()
    a, b = machines
    shared = SharedCache.resolve(server.url())
    assert shared.url is not None and shared.problem is None
    first, objects_a = a.build(shared)
    assert first == CacheStats(local_hits=0, remote_hits=0, misses=3, remote_errors=0)
    second, objects_b = b.build(SharedCache.resolve(server.url()))
    assert second == CacheStats(local_hits=0, remote_hits=3, misses=0, remote_errors=0)
    assert objects_b == objects_a and len(objects_a) == 3
    hashed_a, hashed_b = a.hashed(), b.hashed()
    assert hashed_a == hashed_b and len(hashed_a) == 3
    assert not any(str(a.root) in text for text in hashed_a.values())
    assert "### inputfile\n../src/area.cc\n" in hashed_a["area.o"]
    log = (b.root / "build.log").read_text()
    assert "0 local hits, 3 remote hits, 0 misses (hit rate 100.0%)" in log
    assert f"shared cache redis://127.0.0.1:{server.port}" in log
    again, _ = b.build(shared)  # B's local cache is the first level now
    assert (again.local_hits, again.remote_hits, again.misses) == (3, 0, 0)


def _unused(shared: SharedCache, caplog: pytest.LogCaptureFixture, why: str) -> None:
    assert shared.url is None and shared.problem is not None and why in shared.problem
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    said = [w for w in warnings if "shared compiler cache" in w and "NOT used" in w]
    assert len(said) == 1 and why in said[0], warnings


def _local_build_still_works(machine: Machine, shared: SharedCache) -> None:
    stats, objects = machine.build(shared)
    assert (stats.misses, stats.remote_hits, stats.remote_errors) == (3, 0, 0)
    assert "remote_storage" not in (machine.root / "ccache.conf").read_text()
    assert "shared cache not used" in (machine.root / "build.log").read_text()
    assert len(objects) == 3


def test_a_stopped_server_leaves_the_build_on_the_local_cache(
    redis: Callable[..., Redis],
    machines: tuple[Machine, Machine],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = redis()
    server.stop()
    with caplog.at_level(logging.WARNING):
        shared = SharedCache.resolve(server.url())
    _unused(shared, caplog, "cannot reach the server")
    _local_build_still_works(machines[0], shared)


def test_ccache_itself_goes_on_when_the_server_dies_during_a_build(
    redis: Callable[..., Redis], machines: tuple[Machine, Machine]
) -> None:
    """Past the probe, ccache's own tolerance: an unreachable remote storage is counted as an
    error (``remote_storage_error``) and the compilation proceeds on the local cache."""
    server = redis()
    shared = SharedCache.resolve(server.url())
    assert shared.url is not None
    server.stop()
    stats, objects = machines[0].build(shared)
    assert (stats.misses, stats.remote_hits) == (3, 0) and stats.remote_errors == 3
    assert len(objects) == 3
    assert "3 shared-cache errors" in (machines[0].root / "build.log").read_text()


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://127.0.0.1:6379", "not one of ccache's network backends"),
        ("https://cache.example/ccache", "ccache has no TLS"),
        ("redis://127.0.0.1:6379|read-only", "'|' attributes"),
        ("redis://127.0.0.1:99999", "port"),
        ("redis://127.0.0.1:6379/x", "database number"),
        ("redis://pa%20ss@127.0.0.1", "letters, digits"),
        ("redis://127.0.0.1:6379\nremote_only=true", "control characters"),
    ],
)
def test_a_wrong_url_is_refused_with_the_reason(
    url: str, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        shared = SharedCache.resolve(url)
    _unused(shared, caplog, why)
    assert "pa%20ss" not in caplog.text and "pa ss" not in caplog.text


def test_after_a_wrong_url_the_build_goes_on(
    machines: tuple[Machine, Machine], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        shared = SharedCache.resolve("ftp://127.0.0.1:6379")
    _unused(shared, caplog, "not one of ccache's network backends")
    _local_build_still_works(machines[0], shared)


def test_a_server_wanting_a_password_the_url_lacks(
    redis: Callable[..., Redis],
    machines: tuple[Machine, Machine],
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "s3cret-Pass_word"
    server = redis("--requirepass", secret)
    with caplog.at_level(logging.WARNING):
        shared = SharedCache.resolve(server.url())
    _unused(shared, caplog, "requires a password")
    _local_build_still_works(machines[0], shared)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        wrong = SharedCache.resolve(server.url("not-it@"))
    _unused(wrong, caplog, "refused the user name or password")
    # with the password it is used, and it appears in no message, log or repr; only in the
    # config file ccache reads, which only its owner may read
    right = SharedCache.resolve(server.url(f"{secret}@"))
    assert right.url is not None
    stats, _ = machines[1].build(right)
    assert stats.misses == 3 and stats.remote_errors == 0
    config = machines[1].root / "ccache.conf"
    assert secret in config.read_text() and config.stat().st_mode & 0o777 == 0o600
    for text in (caplog.text, (machines[1].root / "build.log").read_text(), repr(right)):
        assert secret not in text
    assert right.describe() == f"shared cache redis://***@127.0.0.1:{server.port}"


def test_a_read_only_server_is_not_used(
    redis: Callable[..., Redis],
    machines: tuple[Machine, Machine],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A replica (of a primary that is not there) refuses writes: -READONLY."""
    server = redis("--replicaof", "127.0.0.1", str(_free_port()))
    with caplog.at_level(logging.WARNING):
        shared = SharedCache.resolve(server.url())
    _unused(shared, caplog, "read-only")
    _local_build_still_works(machines[0], shared)


def test_the_url_in_parts_and_in_ccache_form() -> None:
    url = parse_cache_url("redis://pw@cache.example:7000/3")
    assert (url.scheme, url.host, url.port, url.path) == (Scheme.REDIS, "cache.example", 7000, "/3")
    assert (url.username, url.password) == (None, "pw")
    assert url.ccache_url() == "redis://pw@cache.example:7000/3"
    assert url.redacted() == "redis://***@cache.example:7000/3" and "pw" not in repr(url)
    user = parse_cache_url("redis://ci:pw@cache.example")
    assert user.ccache_url() == "redis://ci:pw@cache.example:6379"
    web = parse_cache_url("http://ci:pw@[::1]:8080/ccache/")
    assert (web.host, web.port, web.path) == ("[::1]", 8080, "/ccache")
    assert web.ccache_url() == "http://ci:pw@[::1]:8080/ccache"
    assert parse_cache_url("http://cache.example").ccache_url() == "http://cache.example:80"
    with pytest.raises(CacheUrlError, match="both a user name and a password"):
        parse_cache_url("http://ci@cache.example/c")


def test_no_url_writes_a_config_without_remote_storage(tmp_path: Path) -> None:
    assert SharedCache.resolve(None) == SharedCache() == SharedCache.resolve("")
    assert "remote_storage" not in ccache_config_text(SharedCache())
    config = write_ccache_config(tmp_path / "c.conf", SharedCache())
    settings = ccache_environment(str(tmp_path), str(tmp_path / "c"), str(config))
    done = subprocess.run(
        [_tool("ccache"), "--get-config", "remote_storage"],
        env={"PATH": os.environ["PATH"], **settings},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == ""


class _Storage(http.server.BaseHTTPRequestHandler):
    """An HTTP cache as ccache's HTTP backend wants it (GET, PUT, DELETE), in memory; with
    ``credentials`` it asks for Basic authentication, with ``read_only`` it refuses PUT."""

    protocol_version = "HTTP/1.1"
    store: dict[str, bytes]
    credentials: str | None = None
    read_only = False

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, status: int, body: bytes = b"") -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _allowed(self) -> bool:
        if self.credentials is None:
            return True
        token = base64.b64encode(self.credentials.encode()).decode()
        if self.headers.get("Authorization") == f"Basic {token}":
            return True
        self._answer(401)
        return False

    def do_GET(self) -> None:
        if self._allowed():
            body = self.store.get(self.path)
            if body is None:
                self._answer(404)
            else:
                self._answer(200, body)

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self._allowed():
            if self.read_only:
                self._answer(403)
                return
            self.store[self.path] = body
            self._answer(201)

    def do_DELETE(self) -> None:
        if self._allowed():
            self.store.pop(self.path, None)
            self._answer(204)


@pytest.fixture
def http_cache() -> Iterator[Callable[..., str]]:
    """Start an HTTP cache on loopback; returns its base URL (without credentials)."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(credentials: str | None = None, read_only: bool = False) -> str:
        handler = type("Handler", (_Storage,), {"store": {}, "credentials": credentials,
                                                "read_only": read_only})  # fmt: skip
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"127.0.0.1:{server.server_address[1]}/ccache"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_an_http_cache_with_credentials_serves_machine_b(
    http_cache: Callable[..., str], machines: tuple[Machine, Machine]
) -> None:
    where = http_cache(credentials="ci:t0ken")
    shared = SharedCache.resolve(f"http://ci:t0ken@{where}")
    assert shared.url is not None, shared.problem
    a, b = machines
    first, objects_a = a.build(shared)
    assert (first.misses, first.remote_hits, first.remote_errors) == (3, 0, 0)
    second, objects_b = b.build(shared)
    assert (second.local_hits, second.remote_hits, second.misses) == (0, 3, 0)
    assert objects_b == objects_a
    assert "t0ken" not in (b.root / "build.log").read_text() and "t0ken" not in shared.describe()


def test_an_http_cache_wanting_credentials_or_refusing_writes_is_not_used(
    http_cache: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        shared = SharedCache.resolve(f"http://{http_cache(credentials='ci:t0ken')}")
    _unused(shared, caplog, "requires credentials (HTTP 401)")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        shared = SharedCache.resolve(f"http://{http_cache(read_only=True)}")
    _unused(shared, caplog, "does not accept writes (HTTP 403): it is read-only")


def test_the_option_wins_over_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORT_BUILDER_CACHE_URL", "redis://from-env:6379")
    assert cache_url_setting(None) == "redis://from-env:6379"
    assert cache_url_setting("redis://option:6379") == "redis://option:6379"
    assert cache_url_setting("") == "" and SharedCache.resolve("") == SharedCache()
    monkeypatch.delenv("ORT_BUILDER_CACHE_URL")
    assert cache_url_setting(None) is None
