# Regenerates the empirical claims of Ghane, Akhtiamov, Hassibi (arXiv:2603.10485).
#
#   snakemake --cores 8                                  full configuration
#   snakemake --cores 8 --configfile config/quick.yaml   CI-sized profile, under quick/
#
# Stages: data -> runs -> limits -> figures -> report (claims.json, claims.md).
# Extensions beyond the paper (claims E1-E4) add tables and figures after limits.

include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/runs.smk"
include: "workflow/rules/limits.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/extensions.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        claims=out("results/claims.json"),
        table=out("results/claims.md"),
        figures=all_figures(),
        extension_figures=extension_figures(),
    default_target: True
