"""Rule `data`: generate one replicate of a data set and save it as .npz (no pickle)."""

import json

import numpy as np

from dspgd.data import make_problem
from dspgd.io import write_npz
from dspgd.pipeline import provenance, start_job

logger = start_job(snakemake, "data")
spec, dataset, replicate = snakemake.params.spec, snakemake.wildcards.dataset, int(snakemake.wildcards.replicate)

problem = make_problem(spec, snakemake.params.seed, dataset, replicate)
record = provenance({"dataset": dataset, "replicate": replicate, "spec": spec}, problem.seed)
write_npz(
    snakemake.output[0],
    {"X": problem.X, "Y": problem.Y, "W0": problem.W0, "provenance": np.array(json.dumps(record, sort_keys=True))},
)
logger.info("wrote %s: X %s, Y %s", snakemake.output[0], problem.X.shape, problem.Y.shape)
