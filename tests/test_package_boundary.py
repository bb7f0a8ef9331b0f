"""The numerical core is independent: importing all of dspgd loads neither Snakemake nor the rule scripts."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import dspgd

MODULES = sorted(f"dspgd.{module.name}" for module in pkgutil.iter_modules(dspgd.__path__))


def test_every_module_of_the_package_is_listed():
    # Guards the test below against an empty or partial list.
    assert {"dspgd.solver", "dspgd.preconditioners", "dspgd.pipeline", "dspgd.plotting"} <= set(MODULES)


def test_importing_the_package_loads_no_workflow_code():
    program = (
        "import importlib, json, sys\n"
        f"for name in {MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    loaded = json.loads(subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                                       check=True).stdout)
    workflow = [name for name in loaded if name.split(".")[0] in {"snakemake", "scripts", "snakemake_interface_common"}]
    assert workflow == [], f"dspgd imports workflow code: {workflow}"
    assert set(MODULES) <= set(loaded)
