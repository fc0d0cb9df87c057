"""The publishing workflow cannot run here; it is checked against GitHub's workflow schema
(vendored in check-jsonschema, so no network) and for the steps the README promises."""

import subprocess
import sys
from pathlib import Path

import yaml

WORKFLOW = Path(__file__).parents[1] / ".github" / "workflows" / "book.yml"


def _schema_check(path: Path) -> subprocess.CompletedProcess:
    tool = Path(sys.executable).with_name("check-jsonschema")
    return subprocess.run([str(tool), "--builtin-schema", "vendor.github-workflows", str(path)],
                          capture_output=True, text=True)


def test_the_workflow_matches_github_s_schema_and_a_broken_one_does_not(tmp_path):
    assert _schema_check(WORKFLOW).returncode == 0, _schema_check(WORKFLOW).stdout
    broken = yaml.safe_load(WORKFLOW.read_text())
    del broken["jobs"]["build"]["runs-on"]  # every job must say where it runs
    path = tmp_path / "broken.yml"
    path.write_text(yaml.safe_dump(broken))
    assert _schema_check(path).returncode != 0


def test_the_workflow_builds_with_the_readme_command_and_deploys_the_site():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow[True]["push"]["branches"] == ["main"]  # YAML 1.1 reads the key `on` as True
    steps = workflow["jobs"]["build"]["steps"]
    assert any(s.get("run") == "make book SEED_SETS=3" for s in steps)  # the README's command, and the seed sets
    assert any(s.get("uses", "").startswith("actions/upload-pages-artifact") and s["with"]["path"] == "_build/html"
               for s in steps)
    assert any(s.get("uses", "").startswith("actions/deploy-pages") for s in workflow["jobs"]["deploy"]["steps"])
