"""The pre-commit hook and the GitHub Action a descriptor repository uses, run as their own files say, in a shell;
and the worked example of docs/ci.md."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from server.governance.sources import load_shapes
from server.resources import resource_dir
from tests.conftest import DATA

ROOT = Path(__file__).resolve().parents[1]
REPO = DATA / "descriptor-repo"
ORGANISATION = DATA / "shapes" / "organisation-rules.ttl"
BIN = Path(sys.executable).parent


def _environment(**extra: str) -> dict[str, str]:
    """A shell's environment where `valuemesh` is this checkout's (the venv's script, this source tree first)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VALUEMESH_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)
    return {**env, **extra}


@pytest.fixture
def descriptor_repo(tmp_path: Path) -> Path:
    """A descriptor repository laid out as docs/ci.md shows it."""
    repo = tmp_path / "data-products"
    shutil.copytree(REPO / "products", repo / "products")
    (repo / "governance").mkdir()
    shutil.copy(ORGANISATION, repo / "governance" / "organisation-rules.ttl")
    shutil.copytree(resource_dir("seed"), repo / "catalog")  # the catalog the products are registered in
    (repo / "notes.yaml").write_text("not: a descriptor\n")
    return repo


# --- pre-commit -----------------------------------------------------------------------------------------------


def _hook() -> dict[str, Any]:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert [hook["id"] for hook in hooks] == ["valuemesh-validate"]
    return hooks[0]  # type: ignore[no-any-return]


def _documented_hook() -> dict[str, Any]:
    """The hook as docs/ci.md configures it in a descriptor repository's .pre-commit-config.yaml."""
    config = next(d for d in map(yaml.safe_load, _blocks("yaml")) if "repos" in d)
    return config["repos"][0]["hooks"][0]  # type: ignore[no-any-return]


def _run_hook(repo: Path, files: list[str]) -> subprocess.CompletedProcess[str]:
    """What pre-commit does: the entry, the configured args, then the staged files `files` matches and `exclude`
    does not."""
    hook, configured = _hook(), _documented_hook()
    chosen = [f for f in files if re.search(hook["files"], f) and not re.search(configured["exclude"], f)]
    command = [*shlex.split(hook["entry"]), *configured["args"], *chosen]
    return subprocess.run(command, cwd=repo, env=_environment(), capture_output=True, text=True, timeout=120)


def test_the_hook_is_declared_as_pre_commit_expects() -> None:
    hook = _hook()
    assert hook["language"] == "python" and hook["pass_filenames"] is True and hook["require_serial"] is True
    assert shlex.split(hook["entry"]) == ["valuemesh", "validate"]
    pattern = re.compile(hook["files"])
    assert pattern.search("products/orders.odps.yaml") and pattern.search("products/plan.valuemesh.yml")
    assert pattern.search("products/plan.ttl")
    assert not pattern.search(".github/workflows/checklist.yml") and not pattern.search("notes.yaml")


def test_the_hook_stops_a_commit_with_a_failing_descriptor(descriptor_repo: Path) -> None:
    staged = ["products/scratch-table.valuemesh.yaml", "notes.yaml", "governance/organisation-rules.ttl"]
    refused = _run_hook(descriptor_repo, staged)
    assert refused.returncode == 1, refused.stderr
    assert "scratch table" in refused.stdout and "needs exactly one owner" in refused.stdout
    assert "a keyword is lower-case words joined by hyphens" in refused.stdout  # the organisation's rule too


def test_the_hook_lets_a_conforming_descriptor_through(descriptor_repo: Path) -> None:
    staged = ["products/hcp-call-planning.valuemesh.yaml", "notes.yaml", "catalog/data-products.ttl"]
    passed = _run_hook(descriptor_repo, staged)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "0 violation(s)" in passed.stdout


# --- the GitHub Action ---------------------------------------------------------------------------------------------

_EXPRESSION = re.compile(r"\$\{\{\s*([\w.-]+)\s*\}\}")


def _action() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "action.yml").read_text())  # type: ignore[no-any-return]


def _evaluate(text: str, inputs: dict[str, str]) -> str:
    """GitHub's `${{ inputs.x }}` and `${{ github.action_path }}`, as the runner fills them in."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "github.action_path":
            return str(ROOT)
        assert name.startswith("inputs."), name
        return inputs[name.removeprefix("inputs.")]

    return _EXPRESSION.sub(value, text)


def _run_step(step: dict[str, Any], inputs: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = _environment(**{k: _evaluate(str(v), inputs) for k, v in step.get("env", {}).items()})
    assert step["shell"] == "bash"
    return subprocess.run(
        ["bash", "-e", "-c", _evaluate(step["run"], inputs)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _inputs(**given: str) -> dict[str, str]:
    declared = _action()["inputs"]
    assert set(given) <= set(declared)
    return {name: str(spec.get("default", "")) for name, spec in declared.items()} | given


def test_the_action_is_a_composite_action_whose_inputs_reach_scripts_only_through_the_environment() -> None:
    action = _action()
    assert action["runs"]["using"] == "composite"
    for step in action["runs"]["steps"]:
        if "run" in step:
            assert not _EXPRESSION.search(step["run"]), step["run"]  # an input can never run as code
            assert subprocess.run(["bash", "-n", "-c", step["run"]], capture_output=True).returncode == 0


def test_the_install_step_installs_this_revision_unless_told_otherwise() -> None:
    """pip needs the network; what the step asks of it is checked instead, by running the same line with `echo`."""
    install = next(s for s in _action()["runs"]["steps"] if s.get("name") == "Install valuemesh")
    line = _evaluate(install["run"], _inputs()).replace("python -m pip install", "echo")
    env = _environment(**{k: _evaluate(str(v), _inputs()) for k, v in install["env"].items()})
    said = subprocess.run(["bash", "-c", line], env=env, capture_output=True, text=True).stdout.split()
    assert said == ["--disable-pip-version-check", str(ROOT)]
    pinned = _inputs(**{"valuemesh-version": "valuemesh==0.1.0"})
    env = _environment(**{k: _evaluate(str(v), pinned) for k, v in install["env"].items()})
    said = subprocess.run(["bash", "-c", line], env=env, capture_output=True, text=True).stdout.split()
    assert said[-1] == "valuemesh==0.1.0"
    assert (ROOT / "pyproject.toml").is_file()  # what pip installs from the action's own checkout


def _check_step() -> dict[str, Any]:
    return next(s for s in _action()["runs"]["steps"] if s.get("name") == "Check the descriptors")


def test_the_check_step_annotates_each_finding_and_fails(descriptor_repo: Path) -> None:
    inputs = _inputs(path="products", shapes="builtin,governance", context="catalog")
    result = _run_step(_check_step(), inputs, descriptor_repo)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines and all(line.startswith(("::error file=products/", "::warning file=products/")) for line in lines)
    owner = (
        "title=Owner / Steward::scratch table: a data product needs exactly one owner (Owner / Steward); it has none"
    )
    assert any(line.startswith("::error file=products/scratch-table.valuemesh.yaml,line=") and owner in line
               for line in lines)  # fmt: skip
    assert any("title=Name style::territory planning" in line for line in lines)
    assert not any("HCP call planning" in line for line in lines)


def test_the_check_step_passes_a_conforming_folder_and_strict_fails_on_warnings(descriptor_repo: Path) -> None:
    (descriptor_repo / "products" / "scratch-table.valuemesh.yaml").unlink()
    (descriptor_repo / "products" / "territory-planning.ttl").unlink()
    inputs = _inputs(path="products", shapes="builtin,governance", context="catalog")
    passed = _run_step(_check_step(), inputs, descriptor_repo)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    alone = _run_step(_check_step(), _inputs(path="products/hcp-call-planning.valuemesh.yaml"), descriptor_repo)
    assert alone.returncode == 1  # without the catalog, its domain and owner are not registered
    assert "title=Business Domain::HCP call planning" in alone.stdout


def test_bad_shapes_fail_the_step_with_the_file_named(descriptor_repo: Path) -> None:
    shutil.copy(DATA / "shapes" / "recursive.ttl", descriptor_repo / "governance" / "recursive.ttl")
    inputs = _inputs(path="products", shapes="builtin,governance", context="catalog")
    result = _run_step(_check_step(), inputs, descriptor_repo)
    assert result.returncode == 2
    assert "recursive.ttl" in result.stderr and "recursive shapes" in result.stderr


# --- docs/ci.md ------------------------------------------------------------------------------------------------


def _blocks(language: str) -> list[str]:
    text = (ROOT / "docs" / "ci.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def test_the_documented_shapes_are_the_tested_ones_and_are_accepted(tmp_path: Path) -> None:
    [shapes] = _blocks("turtle")
    assert shapes.strip() in ORGANISATION.read_text()
    (tmp_path / "rules.ttl").write_text(shapes)
    assert "Findable by keyword" in load_shapes(["builtin", str(tmp_path / "rules.ttl")]).items


def test_the_documented_workflow_and_hook_use_what_the_action_and_hook_declare() -> None:
    documents = [yaml.safe_load(block) for block in _blocks("yaml")]
    hook_config = next(d for d in documents if "repos" in d)
    assert hook_config["repos"][0]["hooks"][0]["id"] == _hook()["id"]
    workflow = next(d for d in documents if "jobs" in d)
    step = next(s for s in workflow["jobs"]["checklist"]["steps"] if "valuemesh" in s.get("uses", ""))
    assert set(step["with"]) <= set(_action()["inputs"])
