"""Rule `limits`: compare every final iterate of an experiment with the exact references.

Writes one tidy CSV per experiment (a row per run) and its provenance beside it.
"""

import pandas as pd

from dspgd.experiments import limit_columns, parse_preconditioner
from dspgd.io import load_npz, load_problem, write_json, write_text
from dspgd.pipeline import provenance, start_job

logger = start_job(snakemake, "limits")
params = snakemake.params
tables = []
seeds = {}
for job in params.jobs:
    spec = parse_preconditioner(job["preconditioner"])
    preconditioner = spec.build()
    problems = [load_problem(path) for path in job["data"]]
    seeds[job["dataset"]] = [problem.seed for problem in problems]
    columns = limit_columns(problems, load_npz(job["runs"]), spec)
    table = pd.DataFrame(columns)
    table.insert(0, "experiment", snakemake.wildcards.experiment)
    table.insert(1, "extension", params.extension)
    table.insert(2, "dataset", job["dataset"])
    table.insert(3, "preconditioner", spec.label)
    table.insert(4, "family", spec.name)
    table.insert(5, "symmetry", preconditioner.symmetry.value)
    table.insert(6, "smooth_preconditioner", preconditioner.smooth)
    table["n"], table["d"], table["k"] = problems[0].X.shape[0], problems[0].X.shape[1], problems[0].Y.shape[1]
    table["iterate_file"] = job["runs"]
    tables.append(table)
    logger.info("%s on %s: %d runs", spec.label, job["dataset"], len(table))

limits = pd.concat(tables, ignore_index=True)
write_text(snakemake.output.table, limits.to_csv(index=False, float_format="%.17g"))
write_json(snakemake.output.provenance, provenance(params.section, seeds))
logger.info("wrote %d rows to %s", len(limits), snakemake.output.table)
