"""Rule `claims`: write the verdict of every claim to results/claims.json and results/claims.md."""

import pandas as pd

from dspgd.claims import claims_markdown, evaluate_claims
from dspgd.io import write_json, write_text
from dspgd.pipeline import provenance, start_job

logger = start_job(snakemake, "claims")
params = snakemake.params
table = pd.concat([pd.read_csv(path) for path in snakemake.input.tables], ignore_index=True)
claims = evaluate_claims(table, params.settings, params.tol, params.figures)

record = provenance(params.section, params.section["seed"])
write_json(snakemake.output.claims, {"claims": claims, "provenance": record})
write_text(snakemake.output.table, claims_markdown(claims))
for claim in claims:
    logger.info("%s: %s", claim["id"], claim["verdict"])
