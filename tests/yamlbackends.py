"""Run a test module with each YAML parser: libyaml's (when PyYAML has it) and PyYAML's
pure Python, so both give the same results and the same errors.

    from yamlbackends import yaml_backend  # noqa: F401  (the fixture)
    pytestmark = pytest.mark.usefixtures("yaml_backend")
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from talos.core.goyaml import reader

BACKENDS = ["libyaml", "python"] if reader.LIBYAML else ["python"]


@pytest.fixture(scope="module", params=BACKENDS)
def yaml_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    saved = reader.LIBYAML
    reader.LIBYAML = request.param == "libyaml"
    try:
        yield str(request.param)
    finally:
        reader.LIBYAML = saved
