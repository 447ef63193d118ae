"""`inv diff` reports: the Markdown a pull request gets, the JSON a script gets, and the
file --output writes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import inprocess
import pytest
import yaml
from conftest import Standin
from sopskit import decrypt, pitower_project, project_env

from talos.errors import UsageError
from talos.ops.apply import DiffReport, NodeDiff
from talos.ops.diffreport import diff_document, render_markdown, write_report

REPO = Path(__file__).resolve().parents[1]
INV = [sys.executable, "-c", "from invoke.main import program; program.run()"]


@dataclass(frozen=True)
class FakeNode:
    name: str


@dataclass(frozen=True)
class FakeTarget:
    node: FakeNode
    address: str


def node_diff(name: str, **fields: object) -> NodeDiff:
    return NodeDiff(FakeTarget(FakeNode(name), f"10.0.0.{len(name)}"), **fields)  # type: ignore[arg-type]


REPORT = DiffReport((
    node_diff("cp-1", changed=True, reboot=False,
              diff="@@ -1,2 +1,2 @@\n machine:\n-  token: <redacted>\n+  token: <redacted>\n"),
    node_diff("w-1"),
    node_diff("w-22", error="connection refused | node down"),
    node_diff("w-333", changed=True, reboot=True, diff="x: ```fenced```\n"),
))


def test_markdown_has_a_table_row_per_node_and_a_section_per_change_or_error() -> None:
    text = render_markdown(REPORT, "lab")
    lines = text.splitlines()
    assert lines[0] == "### Talos config diff: lab"
    assert "diff failed on 1 of 4 node(s)" in lines[2]
    assert "| `cp-1` | 10.0.0.4 | changes | no |" in lines
    assert "| `w-1` | 10.0.0.3 | no changes | - |" in lines
    assert "| `w-22` | 10.0.0.4 | **error** | - |" in lines
    assert "| `w-333` | 10.0.0.5 | changes | yes |" in lines
    summaries = [line for line in lines if line.startswith("<details>")]
    assert summaries == [
        "<details><summary><code>w-22</code> (10.0.0.4): error</summary>",
        "<details><summary><code>cp-1</code> (10.0.0.4): changes, no reboot</summary>",
        "<details><summary><code>w-333</code> (10.0.0.5): changes, reboots</summary>",
    ]
    assert text.count("</details>") == 3
    assert "```diff\n@@ -1,2 +1,2 @@\n machine:\n-  token: <redacted>" in text
    assert "````diff\nx: ```fenced```\n````" in text  # a longer fence than the content's


def test_markdown_leaves_out_whole_diffs_past_the_comment_limit() -> None:
    big = DiffReport(tuple(
        node_diff(f"n{i}", changed=True, diff="+ line\n" * 400) for i in range(10)
    ))
    text = render_markdown(big, "lab", limit=8000)
    assert len(text) <= 8000
    kept = text.count("<details>")
    assert 0 < kept < 10
    assert text.count("</details>") == kept
    assert f"{10 - kept} diff(s) left out" in text


def test_json_gives_each_node_its_status_reboot_and_diff() -> None:
    document = diff_document(REPORT)
    assert document["exitCode"] == 1
    nodes = {n["node"]: n for n in document["nodes"]}
    assert nodes["cp-1"] == {
        "node": "cp-1", "address": "10.0.0.4", "status": "changed", "reboot": False,
        "diff": REPORT.diffs[0].diff, "message": None, "error": None,
    }
    assert nodes["w-1"]["status"] == "unchanged" and nodes["w-1"]["reboot"] is None
    assert nodes["w-22"]["status"] == "error"
    assert nodes["w-22"]["error"] == "connection refused | node down"


def test_output_replaces_a_regular_file_and_refuses_anything_else(tmp_path: Path) -> None:
    target = tmp_path / "diff.md"
    target.write_text("old")
    write_report(target, "new\n")
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["diff.md"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("keep")
    link = tmp_path / "link.md"
    link.symlink_to(elsewhere)
    with pytest.raises(UsageError, match="a symlink"):
        write_report(link, "x")
    assert elsewhere.read_text() == "keep"
    with pytest.raises(UsageError, match="a folder"):
        write_report(tmp_path, "x")
    with pytest.raises(UsageError, match="does not exist"):
        write_report(tmp_path / "missing" / "diff.md", "x")


# -- as `inv diff` ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pitower cluster with fresh secrets and its configs generated."""
    root = pitower_project(tmp_path_factory.mktemp("diff"))
    home = root.parent / "standin-genconfig"
    home.mkdir()
    (home / "state.json").write_text(json.dumps({"nodes": {}, "latency": 0.0}))
    env = {
        **os.environ, **project_env(root), "TALOSCTL": str(REPO / "tests" / "bin" / "talosctl"),
        "TALOSCTL_STANDIN_STATE": str(home / "state.json"),
        "TALOSCTL_STANDIN_LOG": str(home / "calls.jsonl"),
    }
    with pytest.MonkeyPatch.context() as patch:
        inprocess.patch_runner(patch)
        result = inprocess.inv(["--search-root", str(REPO), "genconfig"], cwd=root, env=env)
    assert result.returncode == 0, result.stderr
    return root


def inv(project: Path, *args: str, program: bool = False
        ) -> subprocess.CompletedProcess[str]:
    """`inv ARGS` in the project: in this process (the stand-in too), or with ``program``
    as the programs themselves."""
    env = {**os.environ, **project_env(project)}
    if not program:
        return inprocess.inv(["--search-root", str(REPO), *args], cwd=project, env=env)
    return subprocess.run([*INV, "--search-root", str(REPO), *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120)


def bundle_strings(project: Path) -> list[str]:
    def strings(value: object) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, dict):
            return [s for item in value.values() for s in strings(item)]
        return []

    bundle = yaml.safe_load(decrypt(project / "secrets.sops.yaml", project / "age.key"))
    return [v for v in strings(bundle) if len(v) >= 8]


def test_markdown_to_a_file_keeps_the_exit_code_and_redacts(
    standin: Standin, project: Path
) -> None:
    standin.pitower(worker_02={"reachable": False})
    out = project / "diff.md"
    result = inv(project, "diff", "--role", "controlplane", "--format", "markdown",
                 "--output", str(out), program=True)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    text = out.read_text()
    assert "| `worker-01` | 192.168.0.201 | changes |" in text
    assert "| `worker-02` | 192.168.0.202 | **error** | - |" in text
    assert "<details><summary><code>worker-01</code> (192.168.0.201): changes" in text
    assert "<redacted>" in text
    assert [v[:12] for v in bundle_strings(project) if v in text] == []


def test_json_is_one_document_with_prose_on_stderr(standin: Standin, project: Path) -> None:
    standin.pitower()
    result = inv(project, "diff", "--node", "worker-03", "--json")
    assert result.returncode == 2, result.stderr
    document = json.loads(result.stdout)
    assert [n["node"] for n in document["nodes"]] == ["worker-03"]
    assert document["nodes"][0]["status"] == "changed"
    assert document["exitCode"] == 2
    assert "1 of 1 node(s) would change: worker-03" in result.stderr
    assert [v[:12] for v in bundle_strings(project) if v in result.stdout] == []


def test_an_unknown_format_is_refused_before_any_node_is_asked(
    standin: Standin, project: Path
) -> None:
    standin.pitower()
    result = inv(project, "diff", "--format", "html")
    assert result.returncode == 2
    assert "--format html: not a format; use text or markdown" in result.stderr
    assert [argv for argv in standin.calls() if argv[:1] == ["apply-config"]] == []
