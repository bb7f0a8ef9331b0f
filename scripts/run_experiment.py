"""Rule `run`: run one preconditioner on every replicate, loss and step size of a data set."""

import json

import numpy as np

from dspgd.experiments import parse_preconditioner, run_job
from dspgd.io import load_problem, write_npz
from dspgd.pipeline import progress_logger, provenance, start_job
from dspgd.solver import SolverOptions

logger = start_job(snakemake, "run")
params = snakemake.params
spec = parse_preconditioner(params.preconditioner)
problems = [load_problem(path) for path in snakemake.input.data]

arrays = run_job(
    problems,
    spec,
    params.losses,
    params.eta_fractions,
    SolverOptions(**params.solver),
    progress_logger(logger),
)
names, counts = np.unique(arrays["status"], return_counts=True)
statuses = {str(name): int(count) for name, count in zip(names, counts, strict=True)}
logger.info("%s on %s: %d runs, statuses %s", spec.label, snakemake.wildcards.dataset, arrays["status"].size, statuses)

section = {
    "experiment": snakemake.wildcards.experiment,
    "dataset": snakemake.wildcards.dataset,
    "preconditioner": params.preconditioner,
    "losses": params.losses,
    "eta_fractions": params.eta_fractions,
    "solver": params.solver,
}
record = provenance(section, [problem.seed for problem in problems])
arrays["provenance"] = np.array(json.dumps(record, sort_keys=True))
write_npz(snakemake.output[0], arrays)
