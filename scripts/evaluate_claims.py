"""Rule `claims`: write the verdict of every claim to results/claims.json and results/claims.md.

The extension claims E1-E4, when configured, are read from rule `extension_claims` and follow C1-C4.
"""

import json
from pathlib import Path

from dspgd.claims import claims_markdown, evaluate_claims, read_limit_tables
from dspgd.io import write_json, write_text
from dspgd.pipeline import provenance, start_job

logger = start_job(snakemake, "claims")
params = snakemake.params
table = read_limit_tables(snakemake.input.tables)
claims = evaluate_claims(table, params.settings, params.tol, params.figures)
for path in snakemake.input.extensions:
    claims += json.loads(Path(path).read_text())["claims"]

record = provenance(params.section, params.section["seed"])
write_json(snakemake.output.claims, {"claims": claims, "provenance": record})
write_text(snakemake.output.table, claims_markdown(claims))
for claim in claims:
    logger.info("%s: %s", claim["id"], claim["verdict"])
