"""Settings: the namespace's defaults, then the Invoke configuration (invoke.yaml, then
``-f FILE``), then `.env`, then the process environment, each level beating the last."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from invoke.config import Config
from invoke.context import Context

from talos.adapters import env
from talos.adapters.settings import SPECS, Settings, resolve_settings
from talos.errors import UsageError
from talos.tasks import build_namespace
from talos.tasks.runtime import keep_setting, load_cluster, settings_of

REPO = Path(__file__).resolve().parents[1]
INV = [sys.executable, "-c", "from invoke.main import program; program.run()"]
VARIABLES = [spec.variable for spec in SPECS if spec.variable] + ["XDG_CACHE_HOME"]


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(env, "_loaded", set())
    yield
    for name in VARIABLES:
        os.environ.pop(name, None)  # what a loaded `.env` added


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    (root / "clusters").mkdir(parents=True)
    (root / "cluster.yaml").write_text("name: x\n")
    monkeypatch.chdir(root)
    return root


def invoke_config(project: Path, runtime: Path | None = None) -> Config:
    """The configuration Invoke builds for a task of this namespace run in ``project``
    (``inv -f runtime``); no system or user files."""
    config = Config(project_location=str(project), runtime_path=runtime, lazy=True)
    config.load_collection(build_namespace().configuration())
    config.load_project()
    config.load_runtime()
    config.load_shell_env()
    return config


def settings_in(project: Path, runtime: Path | None = None) -> Settings:
    return settings_of(Context(config=invoke_config(project, runtime)))


INVOKE_YAML = """\
talos:
  cluster_file: clusters/lab.yaml
  talosctl: bin/talosctl
  talosconfig: secrets/talosconfig
  factory_url: https://factory.example.org
  talos_releases_url: http://mirror/talos
  kubernetes_releases_url: http://mirror/k8s
  cache_dir: cache
  etcd_keep: 3
"""


def test_the_namespace_declares_every_setting_under_talos() -> None:
    declared = build_namespace().configuration()["talos"]
    assert sorted(declared) == sorted(spec.key for spec in SPECS)


def test_without_configuration_or_environment_the_defaults_hold(
    project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    settings = settings_in(project)
    assert settings.cluster_file == project / "cluster.yaml"
    assert (settings.talosctl, settings.talosconfig, settings.factory_url) == (None, None, None)
    assert settings.talos_releases_url == "https://github.com/siderolabs/talos/releases/download"
    assert settings.kubernetes_releases_url == "https://dl.k8s.io/release"
    assert settings.cache_dir == tmp_path / "home" / ".cache" / "talos-tasks" / "bin"
    assert keep_setting(settings, None) == 5
    assert settings.sources == {}


def test_invoke_yaml_beats_the_defaults_with_paths_from_the_project_folder(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "invoke.yaml").write_text(INVOKE_YAML)
    (project / "clusters" / "lab.yaml").write_text("name: lab\n")
    monkeypatch.chdir(project / "clusters")
    settings = settings_in(project)
    assert settings.cluster_file == project / "clusters" / "lab.yaml"
    assert settings.talosctl == str(project / "bin" / "talosctl")
    assert settings.talosconfig == project / "secrets" / "talosconfig"
    assert settings.factory_url == "https://factory.example.org"
    assert settings.talos_releases_url == "http://mirror/talos"
    assert settings.kubernetes_releases_url == "http://mirror/k8s"
    assert settings.cache_dir == project / "cache"
    assert keep_setting(settings, None) == 3
    assert settings.source_of("talosctl") == "talos.talosctl"


def test_invoke_yaml_paths_are_from_its_folder_when_run_from_a_subfolder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No cluster.yaml at the top: the cluster file is the one invoke.yaml names.
    root = tmp_path / "lab"
    (root / "clusters").mkdir(parents=True)
    (root / "clusters" / "lab.yaml").write_text("name: lab\n")
    (root / "invoke.yaml").write_text(INVOKE_YAML)
    monkeypatch.chdir(root / "clusters")
    settings = settings_in(root)
    assert settings.cluster_file == root / "clusters" / "lab.yaml"
    assert settings.talosctl == str(root / "bin" / "talosctl")
    assert settings.talosconfig == root / "secrets" / "talosconfig"
    assert settings.cache_dir == root / "cache"


def test_a_runtime_file_beats_invoke_yaml(project: Path, tmp_path: Path) -> None:
    (project / "invoke.yaml").write_text(INVOKE_YAML)
    runtime = tmp_path / "ci.yaml"
    runtime.write_text("talos:\n  talosctl: talosctl-1.12\n  etcd_keep: 9\n")
    settings = settings_in(project, runtime)
    assert settings.talosctl == "talosctl-1.12"  # a bare name: looked up on PATH
    assert keep_setting(settings, None) == 9
    assert settings.factory_url == "https://factory.example.org"  # not in the file: kept


def test_dotenv_beats_the_invoke_configuration(project: Path, tmp_path: Path) -> None:
    (project / "invoke.yaml").write_text(INVOKE_YAML)
    runtime = tmp_path / "ci.yaml"
    runtime.write_text("talos:\n  factory_url: https://from-the-runtime-file\n")
    (project / ".env").write_text("TALOSCTL=tools/talosctl\n"
                                  "TALOS_FACTORY_URL=https://from-dotenv\n")
    settings = settings_in(project, runtime)
    assert settings.talosctl == str(project / "tools" / "talosctl")
    assert settings.source_of("talosctl") == "TALOSCTL"
    assert settings.factory_url == "https://from-dotenv"
    assert settings.talos_releases_url == "http://mirror/talos"


def test_the_process_environment_beats_dotenv_and_an_empty_variable_is_unset(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "invoke.yaml").write_text(INVOKE_YAML)
    (project / ".env").write_text("TALOSCTL=tools/talosctl\nTALOS_RELEASES_URL=http://dotenv\n")
    monkeypatch.setenv("TALOSCTL", "/opt/talos/bin/talosctl")
    monkeypatch.setenv("TALOS_TASKS_TALOSCONFIG", "/etc/talos/config")
    monkeypatch.setenv("KUBERNETES_RELEASES_URL", "")
    settings = settings_in(project)
    assert settings.talosctl == "/opt/talos/bin/talosctl"
    assert settings.talosconfig == Path("/etc/talos/config")
    assert settings.talos_releases_url == "http://dotenv"
    assert settings.kubernetes_releases_url == "http://mirror/k8s"
    assert settings.source_of("kubernetes_releases_url") == "talos.kubernetes_releases_url"


def test_xdg_cache_home_moves_the_default_cache_only(
    project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert settings_in(project).cache_dir == tmp_path / "xdg" / "talos-tasks" / "bin"
    (project / "invoke.yaml").write_text("talos:\n  cache_dir: /var/cache/talos-bin\n")
    assert settings_in(project).cache_dir == Path("/var/cache/talos-bin")


def test_the_older_etcd_keep_is_read_and_talos_etcd_keep_beats_it(project: Path) -> None:
    (project / "invoke.yaml").write_text("etcd:\n  keep: 7\n")
    settings = settings_in(project)
    assert keep_setting(settings, None) == 7
    assert keep_setting(settings, 2) == 2  # --keep beats both
    (project / "invoke.yaml").write_text("etcd:\n  keep: 7\ntalos:\n  etcd_keep: 4\n")
    assert keep_setting(settings_in(project), None) == 4


def test_talos_etcd_keep_set_to_the_default_still_beats_the_older_etcd_keep(
    project: Path, tmp_path: Path
) -> None:
    (project / "invoke.yaml").write_text("etcd:\n  keep: 7\ntalos:\n  etcd_keep: 5\n")
    assert keep_setting(settings_in(project), None) == 5
    (project / "invoke.yaml").write_text("etcd:\n  keep: 7\n")
    runtime = tmp_path / "ci.yaml"
    runtime.write_text("talos:\n  etcd_keep: 5\n")
    assert keep_setting(settings_in(project, runtime), None) == 5


def test_a_missing_cluster_file_names_the_setting_that_named_it(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "invoke.yaml").write_text("talos:\n  cluster_file: clusters/gone.yaml\n")
    with pytest.raises(UsageError) as caught:
        load_cluster(settings_in(project))
    assert str(caught.value).startswith(
        "talos.cluster_file=clusters/gone.yaml: no such file, looked for at "
        f"{project / 'clusters' / 'gone.yaml'};")
    monkeypatch.setenv("TALOS_CLUSTER_FILE", "also-gone.yaml")
    with pytest.raises(UsageError, match=r"^TALOS_CLUSTER_FILE=also-gone\.yaml: no such"):
        load_cluster(settings_in(project))


def test_library_use_reads_the_environment_and_defaults(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TALOS_FACTORY_URL", "https://factory.lan")
    settings = resolve_settings()
    assert settings.factory_url == "https://factory.lan"
    assert settings.cluster_file == project / "cluster.yaml"


@pytest.mark.e2e
def test_inv_reads_invoke_yaml_beside_tasks_py_and_the_environment_beats_it(
    tmp_path: Path,
) -> None:
    root = tmp_path / "lab"
    (root / "clusters").mkdir(parents=True)
    (root / "tasks.py").write_text((REPO / "tasks.py").read_text())
    pitower = (REPO / "cluster.yaml").read_text()
    (root / "clusters" / "lab.yaml").write_text(
        pitower.replace("name: pitower", "name: lab", 1)
        .replace("extensions/", f"{REPO}/extensions/").replace("patches/", f"{REPO}/patches/"))
    (root / "invoke.yaml").write_text("talos:\n  cluster_file: clusters/lab.yaml\n")
    environ = {k: v for k, v in os.environ.items() if k not in VARIABLES}

    def nodes(*args: str, cwd: Path = root, **extra: str) -> str:
        result = subprocess.run([*INV, "--search-root", str(root), *args, "nodes", "--json"],
                                cwd=cwd, capture_output=True, text=True, timeout=60,
                                env={**environ, **extra})
        assert result.returncode == 0, result.stderr
        return str(json.loads(result.stdout)["cluster"]["name"])

    assert nodes() == "lab"
    assert nodes(cwd=root / "clusters") == "lab"  # invoke.yaml's path is from its folder
    assert nodes(TALOS_CLUSTER_FILE=str(REPO / "cluster.yaml")) == "pitower"
    runtime = tmp_path / "other.yaml"
    runtime.write_text(f"talos:\n  cluster_file: {REPO / 'cluster.yaml'}\n")
    assert nodes("-f", str(runtime)) == "pitower"
