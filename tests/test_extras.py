"""Optional installs: ``marin_exec.ResourceConfig`` is Fray's, loaded on first use, and a missing extra is one line
naming it. (That ``import marin_exec`` imports no Fray is tests/test_layout.py's.)"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import marin_exec
from marin_exec.extras import MissingExtraError, import_extra

# Runs ``code`` in a fresh interpreter where the top-level packages named are not installed.
_WITHOUT = """
import importlib.abc, sys
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {absent!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name.partition(".")[0])
        return None
sys.meta_path.insert(0, Blocker())
"""


def _run_without(absent: set[str], code: str) -> subprocess.CompletedProcess[str]:
    program = _WITHOUT.format(absent=absent) + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=False)


def test_marin_exec_resource_config_is_frays_own_class():
    from fray.types import ResourceConfig

    assert marin_exec.ResourceConfig is ResourceConfig
    assert marin_exec.ResourceConfig.with_tpu("v5litepod-16").replicas == 4


def test_an_unknown_attribute_of_marin_exec_is_still_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'ResourceConfg'"):
        marin_exec.ResourceConfg  # noqa: B018


def test_without_fray_resource_config_names_the_extra_to_install():
    done = _run_without({"fray"}, "import marin_exec\nmarin_exec.ResourceConfig\n")
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        "marin_exec.extras.MissingExtraError: marin_exec.ResourceConfig needs fray, which is not installed: "
        "pip install 'marin_exec[fray]' and rerun"
    )


def test_an_installed_package_that_fails_to_import_raises_its_own_error():
    with pytest.raises(ModuleNotFoundError) as caught:
        import_extra("fray.no_such_submodule", extra="fray", needed_for="a test")
    assert not isinstance(caught.value, MissingExtraError)


def test_without_fray_a_remote_function_names_the_extra_to_install():
    done = _run_without({"fray"}, "from marin_exec import remote\nremote(print, name='tokenized/data')\n")
    assert done.stderr.strip().splitlines()[-1] == (
        "marin_exec.extras.MissingExtraError: tokenized/data: a step with resources (a Fray job) needs fray, which "
        "is not installed: pip install 'marin_exec[fray]' and rerun"
    )


def test_without_s3fs_an_s3_path_names_the_extra_to_install():
    code = "from marin_exec.storage.store import store_for\nstore_for('s3://bucket/dir/x').read('s3://bucket/dir/x')\n"
    done = _run_without({"s3fs"}, code)
    assert done.stderr.strip().splitlines()[-1] == (
        "marin_exec.extras.MissingExtraError: s3:// storage needs s3fs, which is not installed: "
        "pip install 'marin_exec[s3]' and rerun"
    )
