"""Time ``import marin_exec`` in this (fresh) process and list heavy dependencies it pulled in; prints one JSON line.

    .venv/bin/python benchmarks/bench_import.py

The import is the first statement that runs, so nothing is cached in the process. Heavy optional dependencies
(Fray, gcsfs, fsspec, draccus, pydantic, cloudpickle, aiohttp) must load lazily: any that the import loaded is
listed under ``heavy_modules``. ``marin_exec_modules`` counts the package's own modules: where bytecode is not cached
(``bytecode_cached`` false, e.g. under ``PYTHONDONTWRITEBYTECODE=1``) each is compiled from source on every import,
which is most of the time. It does not time Python's own start-up (run_all.py reports that separately).
``pipeline_names_s``: then ``from marin_exec import StepRunner, StepSpec, executor_main, step``, the names a pipeline
script uses, which load on first use (the modules counted above are those of the plain import).
"""

from __future__ import annotations

import sys
import time

_t0 = time.perf_counter()
import marin_exec  # noqa: E402,F401 - the import being timed

IMPORT_S = time.perf_counter() - _t0
PLAIN_IMPORT_MODULES = list(sys.modules)  # what the plain import loaded (counted below)
# Most public names load on first use: what a pipeline script then uses costs this much more (in import_s + this).
_t0 = time.perf_counter()
from marin_exec import StepRunner, StepSpec, executor_main, step  # noqa: E402,F401

PIPELINE_NAMES_S = time.perf_counter() - _t0

import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402

HEAVY = ("fray", "iris", "gcsfs", "s3fs", "fsspec", "draccus", "pydantic", "cloudpickle", "aiohttp", "numpy")


def main() -> int:
    loaded = sorted(name for name in HEAVY if name in PLAIN_IMPORT_MODULES)
    own = [name for name in PLAIN_IMPORT_MODULES if name == "marin_exec" or name.startswith("marin_exec.")]
    cached = os.path.exists(importlib.util.cache_from_source(marin_exec.__file__))
    print(
        json.dumps(
            {
                "import_s": IMPORT_S,
                "pipeline_names_s": PIPELINE_NAMES_S,
                "modules": len(PLAIN_IMPORT_MODULES),
                "marin_exec_modules": len(own),
                "bytecode_cached": cached,
                "heavy_modules": loaded,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
