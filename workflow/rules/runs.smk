# Stage 2: optimizer runs. One job per (experiment, data set, preconditioner)
# runs every replicate, loss and step size, one batch per (replicate, loss).


rule run:
    input:
        data=lambda wildcards: data_files(wildcards.dataset),
        library=library(
            "solver.py", "preconditioners.py", "losses.py", "references.py", "experiments.py", "io.py", "pipeline.py"
        ),
    output:
        out("results/runs/{experiment}/{dataset}/{preconditioner}.npz"),
    params:
        preconditioner=lambda wildcards: preconditioner_entry(wildcards.experiment, wildcards.preconditioner),
        losses=lambda wildcards: config["experiments"][wildcards.experiment]["losses"],
        eta_fractions=lambda wildcards: config["experiments"][wildcards.experiment]["eta_fractions"],
        solver=lambda wildcards: vars(experiment_solver_options(config, wildcards.experiment)),
    log:
        out("logs/runs/{experiment}/{dataset}/{preconditioner}.log"),
    benchmark:
        out("logs/benchmarks/runs/{experiment}/{dataset}/{preconditioner}.tsv")
    threads: 1
    conda:
        "../../environment.yml"
    resources:
        mem_mb=config["run_resources"]["mem_mb"],
        runtime=config["run_resources"]["runtime"],
    script:
        "../../scripts/run_experiment.py"
