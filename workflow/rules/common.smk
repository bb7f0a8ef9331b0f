# Configuration loading and validation, output paths and input helpers.

import ast
import os
import sys
from pathlib import Path

from snakemake.utils import min_version

# Import the dspgd package from this checkout, in the workflow and in every job,
# so the pipeline runs whether or not the package is installed.
SOURCE = str(Path(workflow.basedir, "src"))
sys.path.insert(0, SOURCE)
os.environ.update(PYTHONPATH=SOURCE)

from dspgd.config import check_config, experiment_solver_options
from dspgd.experiments import parse_preconditioner

min_version("9.0")

# A --configfile replaces the default configuration instead of merging into it,
# so the quick profile does not inherit the full run's experiments. --config
# values apply on top of either.
if not workflow.overwrite_configfiles:

    configfile: os.path.join(workflow.basedir, "config", "config.yaml")


check_config(config, Path(workflow.basedir, "workflow", "schemas", "config.schema.yaml"))

OUTPUT_DIR = config["output_dir"]
LIBRARY = Path(workflow.basedir, "src", "dspgd")

wildcard_constraints:
    dataset=r"[A-Za-z0-9_.\-]+",
    experiment=r"[A-Za-z0-9_.\-]+",
    preconditioner=r"[A-Za-z0-9_.\-]+",
    replicate=r"\d+",


def out(path):
    """Prefix an output path with the configured output directory."""
    return os.path.join(OUTPUT_DIR, path) if OUTPUT_DIR else path


def _imported_modules(file_name):
    """File names of the dspgd modules that the library file ``file_name`` imports itself."""
    imported = set()
    for node in ast.walk(ast.parse((LIBRARY / file_name).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from dspgd import x` may name a submodule, `from dspgd.x import y` always does.
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "dspgd" and len(parts) > 1 and (LIBRARY / f"{parts[1]}.py").is_file():
                imported.add(f"{parts[1]}.py")
    return imported


def library(*modules):
    """List ``modules`` with the package's __init__.py and every dspgd module they import, in turn.

    As inputs of a rule, these files make any edit to the library code it uses rerun its jobs."""
    pending, closure = ["__init__.py", *modules], set()
    while pending:
        file_name = pending.pop()
        if file_name not in closure:
            closure.add(file_name)
            pending.extend(_imported_modules(file_name))
    # Relative paths keep Snakemake's recorded inputs valid when the repository is moved or copied.
    return [os.path.relpath(LIBRARY / file_name) for file_name in sorted(closure)]


def data_files(dataset):
    count = config["datasets"][dataset]["replicates"]
    return [out(f"results/data/{dataset}/rep{replicate}.npz") for replicate in range(count)]


def preconditioner_entry(experiment, label):
    for entry in config["experiments"][experiment]["preconditioners"]:
        if parse_preconditioner(entry).label == label:
            return entry
    raise ValueError(f"experiment {experiment!r} has no preconditioner labelled {label!r}")


def run_file(experiment, dataset, label):
    return out(f"results/runs/{experiment}/{dataset}/{label}.npz")


def run_jobs(experiment):
    """Every (data set, preconditioner) job of an experiment, with its files."""
    settings = config["experiments"][experiment]
    jobs = []
    for dataset in settings["datasets"]:
        for entry in settings["preconditioners"]:
            label = parse_preconditioner(entry).label
            jobs.append(
                {
                    "dataset": dataset,
                    "preconditioner": entry,
                    "runs": run_file(experiment, dataset, label),
                    "data": data_files(dataset),
                }
            )
    return jobs


def limit_table(experiment):
    return out(f"results/limits/{experiment}.csv")


FIGURE_FORMATS = ("pdf", "png")
FIGURES = ("c1_trajectories", "c2_eta_dependence", "c3_gd_limit", "c4_rho", "real_data")


def figure_files(name):
    return [out(f"figures/{name}.{suffix}") for suffix in FIGURE_FORMATS]


def all_figures():
    return [path for name in FIGURES for path in figure_files(name)]


def claim_tables():
    return [limit_table(experiment) for experiment in config["claims"]["experiments"]]


def trajectory_labels():
    experiment = config["figures"]["trajectory"]["experiment"]
    return [parse_preconditioner(entry).label for entry in config["experiments"][experiment]["preconditioners"]]


def figure_outputs(name, caption):
    return [report(path, caption=f"../report/{caption}", category="Claims") for path in figure_files(name)]


# Extension claims E1-E4 (workflow/rules/extensions.smk); empty unless the config has
# a claims.extensions section.
EXTENSIONS = config["claims"].get("extensions")
EXTENSION_FIGURES = {
    "E1": "e1_left_invariance",
    "E2": "e2_quadratic",
    "E3": "e3_bounded_curvature",
    "E4": "e4_boundary",
}
DEPENDENCE = config["figures"].get("dependence")


def extension_table(experiment):
    return out(f"results/extensions/tables/{experiment}.csv")


def claim_experiments(*claim_ids):
    """Experiments behind the given extension claims, each once, in config order."""
    names = [name for claim_id in claim_ids for name in EXTENSIONS[claim_id]["experiments"]]
    return list(dict.fromkeys(names))


def extension_tables(*claim_ids):
    return [extension_table(experiment) for experiment in claim_experiments(*claim_ids)]


def extension_figures():
    if not EXTENSIONS:
        return []
    names = list(EXTENSION_FIGURES.values()) + (["rho_dependence"] if DEPENDENCE else [])
    return [path for name in names for path in figure_files(name)]


def extension_claims():
    return [out("results/extensions/claims.json")] if EXTENSIONS else []


def extension_figure_outputs(name, caption):
    return [report(path, caption=f"../report/{caption}", category="Extensions") for path in figure_files(name)]
