"""Which talosctl the tasks run, with which talosconfig, and its version asked early."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_targets import CP1, cluster

from talos.adapters.settings import Settings
from talos.errors import ToolMissingError
from talos.ops.client import client_version_early, talosconfig_path, talosctl_for

STANDIN = Path(__file__).resolve().parent / "bin" / "talosctl"


def test_the_talosconfig_is_the_generated_one_unless_the_settings_name_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    the_cluster = cluster(tmp_path, CP1)
    monkeypatch.setenv("TALOS_TASKS_TALOSCONFIG", "/etc/talos/from-the-environment")
    assert talosconfig_path(the_cluster) == tmp_path / "clusterconfig" / "talosconfig"
    named = Settings(cluster_file=the_cluster.path, talosconfig=Path("/etc/talos/pitower"))
    assert talosconfig_path(the_cluster, named.talosconfig) == Path("/etc/talos/pitower")
    assert talosctl_for(the_cluster, settings=named).talosconfig == Path("/etc/talos/pitower")


def test_talosctl_for_runs_the_binary_the_settings_name_and_says_which_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TALOSCTL", "/opt/bin/from-the-environment")
    named = Settings(cluster_file=tmp_path / "cluster.yaml", talosctl="/opt/bin/talosctl",
                     sources={"talosctl": "talos.talosctl"})
    talosctl = talosctl_for(cluster(tmp_path, CP1), settings=named)
    assert talosctl.binary == "/opt/bin/talosctl"
    assert talosctl.named_by == "talos.talosctl"


def test_talosctl_for_a_cluster_without_settings_uses_those_of_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TALOS_TASKS_TALOSCONFIG", raising=False)
    monkeypatch.setenv("TALOSCTL", "/opt/bin/talosctl")
    talosctl = talosctl_for(cluster(tmp_path, CP1), dry=True)
    assert talosctl.talosconfig == tmp_path / "clusterconfig" / "talosconfig"
    assert talosctl.binary == "/opt/bin/talosctl"
    assert talosctl.named_by == "TALOSCTL"
    assert talosctl.runner.dry
    assert talosctl.progress is not None
    assert talosctl_for(cluster(tmp_path, CP1), progress=None).progress is None


def settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(cluster_file=tmp_path / "cluster.yaml", cache_dir=tmp_path / "cache",
                    **values)


def test_a_named_talosctl_is_asked_its_version_before_the_cluster_file_is_read(
    standin: Any, tmp_path: Path
) -> None:
    named = settings(tmp_path, talosctl=str(STANDIN), sources={"talosctl": "TALOSCTL"})
    with client_version_early(named) as early:
        assert early is not None
        assert early.binary == str(STANDIN)
        assert early.answer().startswith("v1.12.")
        assert early.for_binary(str(STANDIN)) is early.answer
        assert early.for_binary("talosctl") is None  # another binary: not its answer
    assert ["version", "--client"] in standin.calls()


def test_with_nothing_named_or_cached_it_is_paths_talosctl_that_is_asked(
    standin: Any, tmp_path: Path
) -> None:
    with client_version_early(settings(tmp_path)) as early:
        assert early is not None
        assert early.binary == "talosctl"
        assert early.answer().startswith("v1.12.")


def test_a_cached_talosctl_leaves_the_choice_to_the_cluster_files_version(
    standin: Any, tmp_path: Path
) -> None:
    # PATH's talosctl or the cached one: which depends on the cluster's Talos version.
    cached = tmp_path / "cache" / "talosctl-v1.12.4" / "talosctl"
    cached.parent.mkdir(parents=True)
    cached.write_text("#!/bin/sh\n")
    with client_version_early(settings(tmp_path)) as early:
        assert early is None
    assert standin.calls() == []
    # A named one is the one run, whatever is cached.
    with client_version_early(settings(tmp_path, talosctl=str(STANDIN))) as early:
        assert early is not None and early.binary == str(STANDIN)


def test_a_missing_named_talosctl_is_reported_when_its_answer_is_asked_for(
    tmp_path: Path,
) -> None:
    missing = str(tmp_path / "nowhere" / "talosctl")
    named = settings(tmp_path, talosctl=missing, sources={"talosctl": "TALOSCTL"})
    with client_version_early(named) as early:  # nothing raised yet: the file comes first
        assert early is not None
        with pytest.raises(ToolMissingError, match=r"no talosctl at .*named by TALOSCTL"):
            early.answer()
