# Stage 3: limit-point comparison, one tidy CSV per experiment.


rule limits:
    input:
        runs=lambda wildcards: [job["runs"] for job in run_jobs(wildcards.experiment)],
        data=lambda wildcards: sorted({path for job in run_jobs(wildcards.experiment) for path in job["data"]}),
        library=library("experiments.py", "references.py", "io.py", "pipeline.py"),
    output:
        table=out("results/limits/{experiment}.csv"),
        provenance=out("results/limits/{experiment}.provenance.json"),
    params:
        jobs=lambda wildcards: run_jobs(wildcards.experiment),
        extension=lambda wildcards: config["experiments"][wildcards.experiment]["extension"],
        section=lambda wildcards: config["experiments"][wildcards.experiment],
    log:
        out("logs/limits/{experiment}.log"),
    benchmark:
        out("logs/benchmarks/limits/{experiment}.tsv")
    threads: 1
    conda:
        "../../environment.yml"
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../../scripts/compare_limits.py"
