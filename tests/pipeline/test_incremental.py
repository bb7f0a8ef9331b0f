"""Snakemake reruns exactly the jobs whose inputs, parameters or code changed.

Snakemake 9 enables every rerun trigger by default (mtime, params, input,
software-env, code); the pipeline relies on that default. Library modules are
rule inputs (``library()`` in workflow/rules/common.smk), so their modification
time triggers reruns. Rule scripts are covered by the code trigger, which for
``script:`` rules compares the script's modification time with the outputs'.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml
from workflow_support import clone_run, planned_jobs, planned_rules

pytestmark = pytest.mark.pipeline

COMPUTING_RULES = {"data", "run", "limits"}
_RULE = re.compile(r"^\s*rule (\w+):\n(.*?)(?=^\s*rule |\Z)", re.MULTILINE | re.DOTALL)
_SCRIPT = re.compile(r"^\s+script:\s*\n\s+\"([^\"]+)\"", re.MULTILINE)


def rule_scripts(copy: Path) -> dict[str, Path]:
    """Return the script file of every rule with a ``script:`` directive in workflow/rules/*.smk."""
    scripts = {}
    for rule_file in sorted((copy / "workflow" / "rules").glob("*.smk")):
        for name, body in _RULE.findall(rule_file.read_text(encoding="utf-8")):
            script = _SCRIPT.search(body)
            if script:
                scripts[name] = (rule_file.parent / script.group(1)).resolve()
    return scripts


def imported_library_modules(script: Path) -> set[str]:
    """Return the file names of the dspgd modules that ``script`` imports itself."""
    modules = set()
    for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dspgd."):
            modules.add(node.module.split(".")[1] + ".py")
    return modules


def append_comment(path: Path) -> None:
    path.write_text(path.read_text(encoding="utf-8") + "\n# edited by a test\n", encoding="utf-8")


def test_finished_run_has_nothing_to_do(tiny_run):
    assert planned_jobs(tiny_run.copy, tiny_run.configfile) == []


def test_parameter_edit_reruns_that_experiment(tiny_run, tmp_path):
    copy = clone_run(tiny_run.copy, tmp_path / "copy")
    config_path = copy / tiny_run.configfile
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    config["experiments"]["second"]["eta_fractions"] = [0.5, 0.8]
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")

    jobs = planned_jobs(copy, tiny_run.configfile)
    runs = {(job.wildcards["experiment"], job.wildcards["preconditioner"]) for job in jobs if job.rule == "run"}
    limits = {job.wildcards["experiment"] for job in jobs if job.rule == "limits"}
    rules = {job.rule for job in jobs}

    assert runs == {("second", "gd"), ("second", "sign")}
    assert limits == {"second"}
    assert "data" not in rules
    # figure_c1 draws trajectories of experiment `first` only.
    assert "figure_c1" not in rules
    assert {"figure_c2", "figure_c3", "figure_c4", "figure_real_data", "claims"} <= rules


def test_plotting_edit_reruns_only_figures(tiny_run, tmp_path):
    copy = clone_run(tiny_run.copy, tmp_path / "copy")
    append_comment(copy / "src" / "dspgd" / "plotting.py")
    in_dag = planned_rules(tiny_run.copy, tiny_run.configfile, "--forceall")
    plotting_rules = {rule for rule, script in rule_scripts(copy).items()
                      if "plotting.py" in imported_library_modules(script)} & in_dag

    planned = planned_rules(copy, tiny_run.configfile)

    assert plotting_rules
    assert plotting_rules <= planned
    assert planned.isdisjoint(COMPUTING_RULES)


def test_io_edit_reruns_every_writer(tiny_run, tmp_path):
    copy = clone_run(tiny_run.copy, tmp_path / "copy")
    append_comment(copy / "src" / "dspgd" / "io.py")

    # Every rule script writes through dspgd.io, directly or through another module. The tiny
    # config has no extension experiments, so only the rules in its DAG can rerun.
    in_dag = planned_rules(tiny_run.copy, tiny_run.configfile, "--forceall")
    assert planned_rules(copy, tiny_run.configfile) == set(rule_scripts(copy)) & in_dag


def test_script_edit_reruns_its_rule(tiny_run, tmp_path):
    copy = clone_run(tiny_run.copy, tmp_path / "copy")
    append_comment(rule_scripts(copy)["figure_c4"])

    assert planned_rules(copy, tiny_run.configfile) == {"figure_c4", "claims"}


def test_rule_inputs_cover_script_imports(quick_run):
    # The quick profile's DAG has every rule, the extension rules included; a dry run suffices.
    inputs: dict[str, set[str]] = {}
    for job in planned_jobs(quick_run.copy, quick_run.configfile, "--forceall"):
        inputs.setdefault(job.rule, set()).update(Path(path).name for path in job.inputs)
    scripts = rule_scripts(quick_run.copy)

    assert scripts, "no rule with a script: directive found in workflow/rules/*.smk"
    for rule, script in scripts.items():
        missing = imported_library_modules(script) - inputs.get(rule, set())
        assert not missing, f"rule {rule!r} runs {script.name}, which imports {sorted(missing)}; add them to library()"
