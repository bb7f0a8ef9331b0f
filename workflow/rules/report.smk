# Stage 5: verdict of every claim, as JSON and as a Markdown table; the extension
# claims E1-E4, when configured, come from rule extension_claims.


rule claims:
    input:
        tables=claim_tables(),
        figures=all_figures(),
        extensions=extension_claims(),
        library=library("claims.py", "io.py", "pipeline.py"),
    output:
        claims=out("results/claims.json"),
        table=report(out("results/claims.md"), caption="../report/claims.rst", category="Claims"),
    params:
        settings=config["claims"],
        tol=lambda wildcards: max(
            experiment_solver_options(config, name).tol for name in config["claims"]["experiments"]
        ),
        figures={
            "C1": figure_files("c1_trajectories"),
            "C2": figure_files("c2_eta_dependence") + figure_files("real_data"),
            "C3": figure_files("c3_gd_limit") + figure_files("real_data"),
            "C4": figure_files("c4_rho") + figure_files("real_data"),
        },
        section={key: config[key] for key in ("seed", "claims", "experiments", "datasets")},
    log:
        out("logs/claims.log"),
    benchmark:
        out("logs/benchmarks/claims.tsv")
    threads: 1
    conda:
        "../../environment.yml"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../../scripts/evaluate_claims.py"
