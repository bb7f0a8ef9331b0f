"""Rule `extension_table`: add the columns the extension claims need to one experiment's limit table."""

import pandas as pd

from dspgd.extension_tables import augment_limits, dataset_columns
from dspgd.io import load_npz, load_problem, write_json, write_text
from dspgd.pipeline import provenance, start_job

logger = start_job(snakemake, "extension_table")
params = snakemake.params
limits = pd.read_csv(snakemake.input.limits)

datasets, problems_by_dataset = {}, {}
for name, entry in params.datasets.items():
    problems_by_dataset[name] = [load_problem(path) for path in entry["data"]]
    datasets[name] = dataset_columns(name, entry["spec"], problems_by_dataset[name])
runs = {path: load_npz(path) for path in sorted(limits["iterate_file"].unique())}

table = augment_limits(limits, params.preconditioners, datasets, runs)
write_text(snakemake.output.table, table.to_csv(index=False, float_format="%.17g"))
section = {"experiment": snakemake.wildcards.experiment, "preconditioners": params.preconditioners,
           "datasets": {name: entry["spec"] for name, entry in params.datasets.items()}}
seeds = {name: [problem.seed for problem in problems] for name, problems in problems_by_dataset.items()}
write_json(snakemake.output.provenance, provenance(section, seeds))
logger.info("wrote %d rows with %d columns to %s", len(table), table.shape[1], snakemake.output.table)
