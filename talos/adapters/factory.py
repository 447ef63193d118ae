"""Adapter: the Talos Image Factory's HTTP API (``POST /schematics``, official extensions).

Used only when asked (``inv schematics --submit``): IDs are computed offline by
:mod:`talos.core.schematic`. Registering a schematic makes the factory able to build its
images; the ID it answers must equal ours, otherwise our canonical form is wrong.

Every failure becomes one :class:`talos.errors.FactoryError` line, the cause chained:

    FactoryError
      HTTP 400 (and other 4xx)   the factory's own message
      HTTP 5xx                   after ``retries`` retries with exponential backoff
      timeout / no connection    after the same retries; says how to point elsewhere
      ID mismatch                our canonical form differs from the factory's
      unexpected answer          not the JSON the API documents
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from talos.core.cluster import DEFAULT_FACTORY_URL
from talos.core.schematic import Schematic, canonical_yaml, schematic_id
from talos.errors import FactoryError

# httpx is imported where the factory is called, not here: `python -X importtime -c
# 'import httpx'` measures 42 ms on its own (15 ms after invoke and PyYAML; min of 20),
# which every task that imports this module without submitting anything would pay.
if TYPE_CHECKING:
    import httpx

#: The public factory, the cluster file's default (``installer.factory``).
DEFAULT_URL = DEFAULT_FACTORY_URL
RETRY_STATUSES = frozenset((500, 502, 503, 504))
_BODY_LIMIT = 8192  # the factory's own client shows at most 8 KiB of an error body
_SHOWN_LIMIT = 300


def _one_line(text: str) -> str:
    line = " ".join(text[:_BODY_LIMIT].split())
    return line if len(line) <= _SHOWN_LIMIT else line[: _SHOWN_LIMIT - 1] + "…"


class FactoryClient:
    """A small client for one Image Factory (the public one or a self-hosted one)."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 15.0,
        retries: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import httpx  # lazy: see the top of the module

        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self._extensions: dict[str, set[str]] = {}
        self._client = httpx.Client(
            base_url=self.base_url, transport=transport, timeout=httpx.Timeout(timeout),
            headers={"User-Agent": "talos-tasks"}, follow_redirects=True,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> FactoryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the API -------------------------------------------------------------------------

    def register(self, schematic: Schematic) -> str:
        """Make the factory aware of a schematic; returns its ID, checked against ours."""
        ours = schematic_id(schematic)
        what = f"schematic {schematic.source}" if schematic.source else "the schematic"
        response = self._request(
            "POST", "/schematics", what=f"registering {what}",
            content=canonical_yaml(schematic).encode("utf-8"),
            headers={"Content-Type": "application/yaml"},
        )
        answer = self._json(response, f"registering {what}")
        theirs = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(theirs, str):
            raise FactoryError(
                f"{self.base_url}: unexpected answer registering {what}: no schematic ID in it"
            )
        if theirs != ours:
            raise FactoryError(
                f"the factory gives {what} the ID {theirs}, talos-tasks computed {ours}: "
                "our canonical form differs from the factory's; please report this with the file"
            )
        return theirs

    def official_extensions(self, talos_version: str) -> set[str]:
        """Names of the official system extensions the factory offers for a Talos version."""
        if talos_version in self._extensions:
            return self._extensions[talos_version]
        what = f"listing extensions for Talos {talos_version}"
        response = self._request("GET", f"/version/{talos_version}/extensions/official", what=what)
        answer = self._json(response, what)
        if not isinstance(answer, list) or not all(
            isinstance(item, dict) and isinstance(item.get("name"), str) for item in answer
        ):
            raise FactoryError(f"{self.base_url}: unexpected answer {what}: not a list of names")
        names = {item["name"] for item in answer}
        self._extensions[talos_version] = names
        return names

    def check_extensions(self, schematic: Schematic, talos_version: str) -> None:
        """Refuse extension names the factory does not offer for that Talos version."""
        if not schematic.official_extensions:
            return
        known = self.official_extensions(talos_version)
        unknown_names(schematic.official_extensions, known, schematic.source, talos_version)

    # -- transport -----------------------------------------------------------------------

    def _request(self, method: str, path: str, *, what: str, **kwargs: Any) -> httpx.Response:
        import httpx  # lazy: see the top of the module

        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                response = self._client.request(method, path, **kwargs)
            except httpx.TimeoutException as exc:
                if attempt < attempts:
                    self._wait(attempt)
                    continue
                raise FactoryError(
                    f"no answer from the Image Factory at {self.base_url} within "
                    f"{self.timeout:g}s ({what}, {attempts} attempts); check the network, or "
                    "point installer.factory / TALOS_FACTORY_URL at a reachable factory"
                ) from exc
            except httpx.TransportError as exc:
                if attempt < attempts:
                    self._wait(attempt)
                    continue
                reason = _one_line(str(exc)) or type(exc).__name__
                raise FactoryError(
                    f"cannot reach the Image Factory at {self.base_url} ({what}: {reason}, "
                    f"{attempts} attempts); check the network, or point installer.factory / "
                    "TALOS_FACTORY_URL at a reachable factory"
                ) from exc
            if response.status_code in RETRY_STATUSES and attempt < attempts:
                self._wait(attempt)
                continue
            if response.status_code >= 400:
                body = _one_line(response.text) or response.reason_phrase
                tries = f" after {attempts} attempts" if response.status_code >= 500 else ""
                raise FactoryError(
                    f"the Image Factory at {self.base_url} refused {what}: "
                    f"HTTP {response.status_code}{tries}: {body}"
                )
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, attempt: int) -> None:
        self.sleep(self.backoff * 2 ** (attempt - 1))

    def _json(self, response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise FactoryError(
                f"{self.base_url}: unexpected answer {what}: not JSON "
                f"({_one_line(response.text)!r})"
            ) from exc


def unknown_names(
    names: Iterable[str], known: set[str], source: str, talos_version: str
) -> None:
    """FactoryError listing the extension names not in ``known``, with close matches."""
    missing = [name for name in names if name not in known]
    if not missing:
        return
    hints = []
    for name in missing:
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        hints.append(f"{name} (did you mean {close[0]}?)" if close else name)
    where = f"{source}: " if source else ""
    raise FactoryError(
        f"{where}no official extension named {', '.join(hints)} for Talos {talos_version}; "
        "fix the name or check the version"
    )
