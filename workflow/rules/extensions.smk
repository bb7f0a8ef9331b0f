# Extensions beyond the paper (docs/extensions.md): per-run extension tables, the
# verdicts of E1-E4 and their figures. Every output is labelled as an extension.
# Nothing here runs unless the config has a claims.extensions section.


rule extension_table:
    input:
        limits=lambda wildcards: limit_table(wildcards.experiment),
        runs=lambda wildcards: [job["runs"] for job in run_jobs(wildcards.experiment)],
        data=lambda wildcards: sorted({path for job in run_jobs(wildcards.experiment) for path in job["data"]}),
        library=library("extension_tables.py", "experiments.py", "references.py", "io.py", "pipeline.py"),
    output:
        table=out("results/extensions/tables/{experiment}.csv"),
        provenance=out("results/extensions/tables/{experiment}.provenance.json"),
    params:
        preconditioners=lambda wildcards: config["experiments"][wildcards.experiment]["preconditioners"],
        datasets=lambda wildcards: {
            name: {"spec": config["datasets"][name], "data": data_files(name)}
            for name in config["experiments"][wildcards.experiment]["datasets"]
        },
    log:
        out("logs/extensions/tables/{experiment}.log"),
    benchmark:
        out("logs/benchmarks/extensions/tables/{experiment}.tsv")
    threads: 1
    conda:
        "../../environment.yml"
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../../scripts/extension_table.py"


if EXTENSIONS:

    rule extension_claims:
        input:
            tables=extension_tables("E1", "E2", "E3", "E4"),
            library=library("extensions.py", "extension_tables.py", "claims.py", "pipeline.py"),
        output:
            claims=out("results/extensions/claims.json"),
        params:
            experiments=claim_experiments("E1", "E2", "E3", "E4"),
            settings=config["claims"],
            figures={claim_id: figure_files(name) for claim_id, name in EXTENSION_FIGURES.items()},
        log:
            out("logs/extensions/claims.log"),
        benchmark:
            out("logs/benchmarks/extensions/claims.tsv")
        threads: 1
        conda:
            "../../environment.yml"
        resources:
            mem_mb=2000,
            runtime=5,
        script:
            "../../scripts/evaluate_extensions.py"

    rule figure_e1:
        input:
            tables=extension_tables("E1"),
            library=library("plotting.py", "claims.py", "pipeline.py"),
        output:
            extension_figure_outputs(EXTENSION_FIGURES["E1"], "e1.rst"),
        params:
            machine_precision=config["claims"]["machine_precision"],
            spread_factor=config["claims"]["spread_factor"],
        log:
            out("logs/figures/e1_left_invariance.log"),
        benchmark:
            out("logs/benchmarks/figures/e1_left_invariance.tsv")
        threads: 1
        conda:
            "../../environment.yml"
        resources:
            mem_mb=1000,
            runtime=5,
        script:
            "../../scripts/figures/e1_left_invariance.py"

    rule figure_e2:
        input:
            tables=extension_tables("E2"),
            library=library("plotting.py", "claims.py", "pipeline.py"),
        output:
            extension_figure_outputs(EXTENSION_FIGURES["E2"], "e2.rst"),
        params:
            machine_precision=config["claims"]["machine_precision"],
        log:
            out("logs/figures/e2_quadratic.log"),
        benchmark:
            out("logs/benchmarks/figures/e2_quadratic.tsv")
        threads: 1
        conda:
            "../../environment.yml"
        resources:
            mem_mb=1000,
            runtime=5,
        script:
            "../../scripts/figures/e2_quadratic.py"

    rule figure_e3:
        input:
            tables=extension_tables("E3"),
            library=library("plotting.py", "claims.py", "pipeline.py"),
        output:
            extension_figure_outputs(EXTENSION_FIGURES["E3"], "e3.rst"),
        log:
            out("logs/figures/e3_bounded_curvature.log"),
        benchmark:
            out("logs/benchmarks/figures/e3_bounded_curvature.tsv")
        threads: 1
        conda:
            "../../environment.yml"
        resources:
            mem_mb=1000,
            runtime=5,
        script:
            "../../scripts/figures/e3_bounded_curvature.py"

    rule figure_e4:
        input:
            tables=extension_tables("E4"),
            runs=[job["runs"] for experiment in claim_experiments("E4") for job in run_jobs(experiment)],
            library=library("plotting.py", "claims.py", "extensions.py", "io.py", "pipeline.py"),
        output:
            extension_figure_outputs(EXTENSION_FIGURES["E4"], "e4.rst"),
        log:
            out("logs/figures/e4_boundary.log"),
        benchmark:
            out("logs/benchmarks/figures/e4_boundary.tsv")
        threads: 1
        conda:
            "../../environment.yml"
        resources:
            mem_mb=1000,
            runtime=5,
        script:
            "../../scripts/figures/e4_boundary.py"


if EXTENSIONS and DEPENDENCE:

    rule figure_rho_dependence:
        input:
            tables=[extension_table(experiment) for experiment in DEPENDENCE["experiments"]],
            library=library("plotting.py", "claims.py", "pipeline.py"),
        output:
            extension_figure_outputs("rho_dependence", "rho_dependence.rst"),
        params:
            labels=DEPENDENCE["labels"],
        log:
            out("logs/figures/rho_dependence.log"),
        benchmark:
            out("logs/benchmarks/figures/rho_dependence.tsv")
        threads: 1
        conda:
            "../../environment.yml"
        resources:
            mem_mb=1000,
            runtime=5,
        script:
            "../../scripts/figures/rho_dependence.py"
