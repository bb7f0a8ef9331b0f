"""Rule `extension_table`: add the columns the extension claims need to one experiment's limit table."""

import pandas as pd

from dspgd.extension_tables import augment_limits, dataset_columns
from dspgd.io import load_npz, load_problem, write_text
from dspgd.pipeline import start_job

logger = start_job(snakemake, "extension_table")
params = snakemake.params
limits = pd.read_csv(snakemake.input.limits)

datasets = {}
for name, entry in params.datasets.items():
    problems = [load_problem(path) for path in entry["data"]]
    datasets[name] = dataset_columns(name, entry["spec"], problems)
runs = {path: load_npz(path) for path in sorted(limits["iterate_file"].unique())}

table = augment_limits(limits, params.preconditioners, datasets, runs)
write_text(snakemake.output.table, table.to_csv(index=False, float_format="%.17g"))
logger.info("wrote %d rows with %d columns to %s", len(table), table.shape[1], snakemake.output.table)
