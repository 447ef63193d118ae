"""The Image Factory client: injected transports and a local server, never the internet."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from talos.adapters.factory import FactoryClient
from talos.core.schematic import canonical_yaml, parse_schematic, schematic_id
from talos.errors import FactoryError

SCHEMATIC = parse_schematic(
    "customization: {systemExtensions: {officialExtensions: [siderolabs/amd-ucode]}}\n",
    "extensions/amd.yaml",
)
OURS = schematic_id(SCHEMATIC)
EXTENSIONS = [
    {"name": "siderolabs/amd-ucode", "ref": "ghcr.io/x:1", "digest": "sha256:0",
     "author": "Sidero Labs", "description": "AMD microcode"},
    {"name": "siderolabs/intel-ucode", "ref": "ghcr.io/y:1", "digest": "sha256:1",
     "author": "Sidero Labs", "description": "Intel microcode"},
]


class Recorded(FactoryClient):
    """A client on a mock transport that records its backoff naps instead of sleeping."""

    def __init__(
        self, handler: Callable[[httpx.Request], httpx.Response], **options: Any
    ) -> None:
        self.naps: list[float] = []
        super().__init__(
            "https://factory.example", transport=httpx.MockTransport(handler),
            sleep=self.naps.append, **options,
        )


def client(handler: Callable[[httpx.Request], httpx.Response], **options: Any) -> Recorded:
    return Recorded(handler, **options)


def one_line_error(call: Callable[[], object]) -> str:
    with pytest.raises(FactoryError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_register_posts_the_canonical_form_and_returns_the_agreed_id() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"id": OURS})

    assert client(handler).register(SCHEMATIC) == OURS
    [request] = seen
    assert (request.method, str(request.url)) == ("POST", "https://factory.example/schematics")
    assert request.content.decode() == canonical_yaml(SCHEMATIC)


def test_a_different_id_from_the_factory_is_an_error() -> None:
    made = client(lambda request: httpx.Response(201, json={"id": "0" * 64}))
    message = one_line_error(lambda: made.register(SCHEMATIC))
    assert "extensions/amd.yaml" in message and "0" * 64 in message and OURS in message
    assert "canonical form differs" in message


def test_a_400_shows_the_factory_message() -> None:
    body = "error unmarshaling schematic:\nyaml: unmarshal errors:\n  line 2: field x not found"
    made = client(lambda request: httpx.Response(400, text=body))
    message = one_line_error(lambda: made.register(SCHEMATIC))
    assert "HTTP 400: error unmarshaling schematic: yaml: unmarshal errors: line 2: field x" in (
        message
    )
    assert made.naps == []  # a 4xx is not retried


def test_a_5xx_is_retried_with_backoff_then_succeeds() -> None:
    answers = iter([httpx.Response(503, text="busy"), httpx.Response(500), httpx.Response(
        201, json={"id": OURS}
    )])
    made = client(lambda request: next(answers), backoff=0.25)
    assert made.register(SCHEMATIC) == OURS
    assert made.naps == [0.25, 0.5]


def test_a_5xx_that_persists_gives_up_after_the_retries() -> None:
    made = client(lambda request: httpx.Response(502, text="bad gateway"), retries=2)
    message = one_line_error(lambda: made.register(SCHEMATIC))
    assert "HTTP 502 after 3 attempts: bad gateway" in message
    assert len(made.naps) == 2


def test_a_timeout_is_retried_then_reported() -> None:
    tries: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        tries.append(request.url.path)
        raise httpx.ReadTimeout("timed out", request=request)

    made = client(handler, retries=1, timeout=2)
    message = one_line_error(lambda: made.register(SCHEMATIC))
    assert tries == ["/schematics", "/schematics"] and made.naps == [0.5]
    assert "no answer from the Image Factory at https://factory.example within 2s" in message
    assert "2 attempts" in message
    assert "TALOS_FACTORY_URL" in message


def test_an_answer_that_is_not_json_is_reported() -> None:
    made = client(lambda request: httpx.Response(200, text="<html>captive portal</html>"))
    assert "not JSON" in one_line_error(lambda: made.register(SCHEMATIC))


def test_official_extensions_are_listed_for_a_version_and_unknown_names_refused() -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return httpx.Response(200, json=EXTENSIONS)

    made = client(handler)
    assert made.official_extensions("v1.12.4") == {
        "siderolabs/amd-ucode", "siderolabs/intel-ucode",
    }
    assert paths == ["/version/v1.12.4/extensions/official"]
    made.check_extensions(SCHEMATIC, "v1.12.4")
    typo = parse_schematic(
        "customization: {systemExtensions: {officialExtensions: [siderolabs/intel-ucod]}}",
        "extensions/intel.yaml",
    )
    message = one_line_error(lambda: made.check_extensions(typo, "v1.12.4"))
    assert message.startswith("extensions/intel.yaml: no official extension named")
    assert "siderolabs/intel-ucod (did you mean siderolabs/intel-ucode?)" in message


# -- real sockets on localhost -----------------------------------------------------------


@pytest.fixture
def local_factory() -> Iterator[tuple[str, list[str]]]:
    """A tiny factory on 127.0.0.1 that registers schematics (and answers /slow late)."""
    bodies: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            bodies.append(body)
            answer = json.dumps({"id": OURS}).encode()
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def do_GET(self) -> None:
            time.sleep(0.5)  # longer than the client waits
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", bodies
    finally:
        server.shutdown()
        server.server_close()


def test_register_against_a_local_factory(local_factory: tuple[str, list[str]]) -> None:
    url, bodies = local_factory
    with FactoryClient(url + "/") as made:
        assert made.register(SCHEMATIC) == OURS
    assert bodies == [canonical_yaml(SCHEMATIC)]


def test_a_slow_local_factory_times_out(local_factory: tuple[str, list[str]]) -> None:
    url, _ = local_factory
    with FactoryClient(url, timeout=0.1, retries=0) as made:
        message = one_line_error(lambda: made.official_extensions("v1.12.4"))
    assert f"no answer from the Image Factory at {url} within 0.1s" in message


def test_connection_refused_says_the_factory_cannot_be_reached() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    naps: list[float] = []
    with FactoryClient(f"http://127.0.0.1:{port}", retries=1, sleep=naps.append) as made:
        message = one_line_error(lambda: made.register(SCHEMATIC))
    assert message.startswith(f"cannot reach the Image Factory at http://127.0.0.1:{port}")
    assert "2 attempts" in message and naps == [0.5]
