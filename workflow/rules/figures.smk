# Stage 4: figures, one rule per claim plus the real data set. Each writes PDF and PNG.


rule figure_c1:
    input:
        runs=lambda wildcards: [
            run_file(config["figures"]["trajectory"]["experiment"], config["figures"]["trajectory"]["dataset"], label)
            for label in trajectory_labels()
        ],
        library=library("plotting.py", "pipeline.py"),
    output:
        figure_outputs("c1_trajectories", "c1.rst"),
    params:
        labels=trajectory_labels(),
        dataset=config["figures"]["trajectory"]["dataset"],
        eta_fraction=config["figures"]["trajectory"]["eta_fraction"],
    log:
        out("logs/figures/c1_trajectories.log"),
    benchmark:
        out("logs/benchmarks/figures/c1_trajectories.tsv")
    threads: 1
    conda:
        "../../environment.yml"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../../scripts/figures/c1_trajectories.py"


rule figure_c2:
    input:
        tables=claim_tables(),
        library=library("plotting.py", "claims.py", "pipeline.py"),
    output:
        figure_outputs("c2_eta_dependence", "c2.rst"),
    log:
        out("logs/figures/c2_eta_dependence.log"),
    benchmark:
        out("logs/benchmarks/figures/c2_eta_dependence.tsv")
    threads: 1
    conda:
        "../../environment.yml"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../../scripts/figures/c2_eta_dependence.py"


rule figure_c3:
    input:
        tables=claim_tables(),
        library=library("plotting.py", "claims.py", "pipeline.py"),
    output:
        figure_outputs("c3_gd_limit", "c3.rst"),
    params:
        machine_precision=config["claims"]["machine_precision"],
    log:
        out("logs/figures/c3_gd_limit.log"),
    benchmark:
        out("logs/benchmarks/figures/c3_gd_limit.tsv")
    threads: 1
    conda:
        "../../environment.yml"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../../scripts/figures/c3_gd_limit.py"


rule figure_c4:
    input:
        tables=claim_tables(),
        library=library("plotting.py", "claims.py", "pipeline.py"),
    output:
        figure_outputs("c4_rho", "c4.rst"),
    log:
        out("logs/figures/c4_rho.log"),
    benchmark:
        out("logs/benchmarks/figures/c4_rho.tsv")
    threads: 1
    conda:
        "../../environment.yml"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../../scripts/figures/c4_rho.py"


rule figure_real_data:
    input:
        table=limit_table(config["figures"]["real"]["experiment"]),
        library=library("plotting.py", "claims.py", "pipeline.py"),
    output:
        figure_outputs("real_data", "real_data.rst"),
    log:
        out("logs/figures/real_data.log"),
    benchmark:
        out("logs/benchmarks/figures/real_data.tsv")
    threads: 1
    conda:
        "../../environment.yml"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../../scripts/figures/real_data.py"
