"""``.executor_info``'s commit is read from the repository's files without starting git: it must be what
``git rev-parse HEAD`` says, for every layout a checkout can have (loose and packed refs, a detached HEAD, a linked
worktree), and git's own answer where the files do not plainly say."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from marin_exec.runtime.provenance import git_commit, process_provenance

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _repo(path: Path, commits: int = 2) -> Path:
    path.mkdir(parents=True)
    _git(path, "init", "-q", "-b", "main")
    for i in range(commits):
        (path / "f").write_text(str(i))
        _git(path, "add", "f")
        _git(path, "commit", "-q", "-m", f"c{i}")
    return path


def _rev_parse(directory: Path) -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True).stdout.strip()


def test_a_branch_checked_out_reads_as_git_says_from_a_subdirectory(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "r")
    (repo / "sub" / "deeper").mkdir(parents=True)
    assert git_commit(str(repo / "sub" / "deeper")) == _rev_parse(repo) != ""


def test_packed_refs_read_as_git_says(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "r")
    _git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    assert git_commit(str(repo)) == _rev_parse(repo) != ""


def test_a_detached_head_reads_as_git_says(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "r")
    _git(repo, "checkout", "-q", "HEAD~1")
    assert git_commit(str(repo)) == _rev_parse(repo) != ""


def test_a_linked_worktree_reads_its_own_head(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "r")
    _git(repo, "worktree", "add", "-q", "-b", "other", str(tmp_path / "wt"), "HEAD~1")
    _git(repo, "pack-refs", "--all")  # the worktree's branch is found in the shared packed-refs
    assert git_commit(str(tmp_path / "wt")) == _rev_parse(tmp_path / "wt") != _rev_parse(repo)


def test_git_answers_when_git_dir_is_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = _repo(tmp_path / "a"), _repo(tmp_path / "b", commits=1)
    monkeypatch.setenv("GIT_DIR", str(second / ".git"))
    assert git_commit(str(first)) == _rev_parse(first) == _rev_parse(second)


def test_outside_a_repository_there_is_no_commit(tmp_path: Path) -> None:
    if _rev_parse(tmp_path):
        pytest.skip("the temp directory is inside a repository here")
    assert git_commit(str(tmp_path)) == ""


def test_the_process_provenance_names_the_working_directorys_commit() -> None:
    assert process_provenance()["git_commit"] == (_rev_parse(Path.cwd()) or None)
    assert process_provenance()["host"] == os.uname().nodename
