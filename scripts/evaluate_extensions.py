"""Rule `extension_claims`: verdicts of the extension claims E1-E4 as JSON, merged later by rule `claims`."""

import pandas as pd

from dspgd.extensions import evaluate_extensions
from dspgd.io import write_json
from dspgd.pipeline import start_job

logger = start_job(snakemake, "extension_claims")
params = snakemake.params
tables = {
    experiment: pd.read_csv(path)
    for experiment, path in zip(params.experiments, snakemake.input.tables, strict=True)
}
claims = evaluate_extensions(tables, params.settings, params.figures)

write_json(snakemake.output.claims, {"claims": claims})
for claim in claims:
    logger.info("%s: %s (%s)", claim["id"], claim["verdict"], claim["evidence"]["summary"])
