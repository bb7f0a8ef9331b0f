# Stage 1: data sets, one .npz per (data set, replicate).


rule data:
    input:
        library=library("data.py", "io.py", "pipeline.py"),
    output:
        out("results/data/{dataset}/rep{replicate}.npz"),
    params:
        spec=lambda wildcards: config["datasets"][wildcards.dataset],
        seed=config["seed"],
    log:
        out("logs/data/{dataset}/rep{replicate}.log"),
    benchmark:
        out("logs/benchmarks/data/{dataset}/rep{replicate}.tsv")
    threads: 1
    conda:
        "../../environment.yml"
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../../scripts/make_data.py"
