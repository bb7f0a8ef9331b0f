"""Snakemake lint and a dry run of the full configuration."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import yaml

from dspgd.config import check_config
from dspgd.experiments import parse_preconditioner

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def run(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SNAKEMAKE, *arguments], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_lint_is_clean():
    result = run("--lint")
    assert result.returncode == 0, result.stderr
    assert "Lints for" not in result.stdout + result.stderr


def job_counts(output: str) -> Counter[str]:
    table = output.split("Job stats:")[1].split("\n\n")[0]
    counts = Counter()
    for line in table.splitlines()[3:]:
        match = re.match(r"(\S+)\s+(\d+)$", line.strip())
        if match and match.group(1) != "total":
            counts[match.group(1)] = int(match.group(2))
    return counts


def test_dry_run_of_full_config_plans_every_job(tmp_path):
    config = check_config(
        yaml.safe_load((ROOT / "config" / "config.yaml").read_text()),
        ROOT / "workflow" / "schemas" / "config.schema.yaml",
    )
    config["output_dir"] = str(tmp_path)
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(config))

    result = run("--dry-run", "--cores", "8", "--configfile", str(config_file))
    assert result.returncode == 0, result.stderr
    counts = job_counts(result.stdout)

    experiments = config["experiments"]
    used = {dataset for experiment in experiments.values() for dataset in experiment["datasets"]}
    assert counts["data"] == sum(config["datasets"][name]["replicates"] for name in used)
    assert counts["run"] == sum(len(e["datasets"]) * len(e["preconditioners"]) for e in experiments.values())
    assert counts["limits"] == len(experiments)
    assert counts["claims"] == 1
    labels = {parse_preconditioner(entry).label for e in experiments.values() for entry in e["preconditioners"]}
    for label in sorted(labels):
        assert f"preconditioner={label}" in result.stdout, f"no run job planned for {label}"


def test_bad_config_stops_snakemake_with_key(tmp_path):
    config = yaml.safe_load((ROOT / "config" / "quick.yaml").read_text())
    config["experiments"]["sweep"]["preconditioners"].append("adamw")
    config_file = tmp_path / "bad.yaml"
    config_file.write_text(yaml.safe_dump(config))
    result = run("--dry-run", "--configfile", str(config_file))
    assert result.returncode != 0
    assert "unknown preconditioner 'adamw'" in result.stderr + result.stdout
