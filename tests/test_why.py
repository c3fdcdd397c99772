"""Why a step will run: the versioned values and dependencies that changed since its most recent earlier output,
and the drift of a cached step's unversioned config, read from real ``.executor_info`` files."""

from __future__ import annotations

import dataclasses
import json
import os

from marin_exec import StepRunner, StepSpec, deferred, output, step, versioned
from marin_exec.compile.compiler import compile_graph
from marin_exec.run.earlier import Earlier, find_earlier
from marin_exec.run.why import config_drift, drift_lines, what_changed, why_lines, why_will_run


def _noop(output_path: str) -> None:
    return None


def _raw(prefix: str, url: str = "https://example.org/a.txt") -> StepSpec:
    return StepSpec(name="raw/corpus", fn=_noop, hash_attrs={"url": url}, output_path_prefix=prefix)


def _model(prefix: str, lr: float, raw: StepSpec) -> StepSpec:
    return StepSpec(
        name="models/x", fn=_noop, deps=[raw], hash_attrs={"lr": lr, "data": "DEP[0]"}, output_path_prefix=prefix
    )


def _ran(*specs: StepSpec) -> None:
    StepRunner().run(specs)


def _why(spec: StepSpec) -> str:
    [line] = why_lines([spec])
    return line


def test_a_step_without_earlier_outputs_never_ran(prefix):
    assert _why(_model(prefix, 0.1, _raw(prefix))) == "never ran"


def test_nested_dependency_versions_compare_like_name_hashes(prefix):
    raw = _raw(prefix)
    _ran(_model(prefix, 0.1, raw))
    today = _model(prefix, 0.2, raw)
    [earlier] = find_earlier([(today.name, today.output_path)])

    assert why_will_run(today.version, earlier) == _why(today)


def test_a_changed_versioned_value_is_shown_with_the_earlier_output(prefix):
    before = _model(prefix, 0.1, _raw(prefix))
    _ran(before)

    why = _why(_model(prefix, 0.2, _raw(prefix)))

    assert why == f"lr: 0.1 \u2192 0.2 (was models/x-{before.hash_id})"


def test_a_changed_dependency_is_shown_by_its_name_and_hashes(prefix):
    old_raw, new_raw = _raw(prefix), _raw(prefix, "https://example.org/b.txt")
    _ran(_model(prefix, 0.1, old_raw))

    why = _why(_model(prefix, 0.1, new_raw))

    assert why.startswith(f"dependency raw/corpus: {old_raw.hash_id} \u2192 {new_raw.hash_id} (was models/x-")


def test_added_and_removed_versioned_values_read_as_unset(prefix):
    info = {"version": {"name": "s", "config": {"a": 1}, "dependencies": []}}
    version = {"name": "s", "config": {"b": "x"}, "dependencies": []}

    assert what_changed(version, info) == ['b: unset \u2192 "x"', "a: 1 \u2192 unset"]


def test_dependencies_recorded_nested_as_marin_does_compare_by_name_and_hash(prefix):
    raw = _raw(prefix)
    recorded = {"version": {"name": "m", "config": {}, "dependencies": [raw.version]}}
    today = {"name": "m", "config": {}, "dependencies": [raw.name_with_hash, "extra/step-abcdef"]}

    assert what_changed(today, recorded) == ["new dependency extra/step-abcdef"]


def test_the_most_recent_earlier_output_is_the_one_that_ended_last(prefix):
    first = _model(prefix, 0.1, _raw(prefix))
    second = _model(prefix, 0.3, _raw(prefix))
    _ran(second, first)
    for spec, end in ((first, "2026-01-02T00:00:00+00:00"), (second, "2026-01-01T00:00:00+00:00")):
        path = f"{spec.output_path}/.executor_info"
        with open(path) as f:
            info = json.load(f)
        with open(path, "w") as f:
            json.dump({**info, "end_time": end}, f)

    [earlier] = find_earlier([("models/x", _model(prefix, 0.2, _raw(prefix)).output_path)])

    assert earlier is not None and earlier.output_path == first.output_path


def test_an_earlier_output_without_info_is_named_but_not_compared(prefix):
    os.makedirs(f"{prefix}/models/x-abc123")

    why = _why(_model(prefix, 0.2, _raw(prefix)))

    assert why == "never ran at this version; an earlier output models/x-abc123 has no recorded .executor_info"


def test_find_earlier_ignores_the_step_own_path_other_names_and_pinned_paths(prefix):
    spec = _model(prefix, 0.1, _raw(prefix))
    for directory in (spec.output_path, f"{prefix}/models/xy-abc123", f"{prefix}/models/x-notahash"):
        os.makedirs(directory)

    found = find_earlier([(spec.name, spec.output_path), ("models/x", f"{prefix}/pinned/here")])

    assert found == [None, None]


def test_find_earlier_answers_many_steps_in_order(prefix):
    a, b = _model(prefix, 0.1, _raw(prefix)), _raw(prefix)
    _ran(a)

    found = find_earlier([(b.name, _raw(prefix, "https://x").output_path), ("none/here", f"{prefix}/none/here-abc123")])

    assert isinstance(found[0], Earlier) and found[0].name_with_hash == b.name_with_hash
    assert found[1] is None


def test_find_earlier_lists_and_reads_on_every_backend(store_root):
    from marin_exec.storage.store import store_for

    for suffix, end in (("aaaaaa", "2026-01-02"), ("bbbbbb", "2026-01-01")):
        path = f"{store_root}/models/x-{suffix}/.executor_info"
        store_for(path).write(path, json.dumps({"version": {}, "end_time": end}).encode())

    found = find_earlier([("models/x", f"{store_root}/models/x-cccccc"), ("models/y", f"{store_root}/models/y-cccccc")])

    assert found == [
        Earlier(f"{store_root}/models/x-aaaaaa", "models/x-aaaaaa", {"version": {}, "end_time": "2026-01-02"}),
        None,
    ]


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    lr: float
    batch_size: int
    out: str


def _train(config: TrainConfig) -> None:
    os.makedirs(config.out, exist_ok=True)


train = deferred(_train)


@step(name="models/drift")
def drifting(batch_size: int):
    return train(TrainConfig(lr=versioned(0.1), batch_size=batch_size, out=output()))


def test_a_cached_step_whose_unversioned_config_changed_has_a_drift_line(prefix):
    [old] = compile_graph(drifting(32), prefix=prefix).specs
    _ran(old)
    [new] = compile_graph(drifting(64), prefix=prefix).specs
    with open(f"{new.output_path}/.executor_info") as f:
        recorded = json.load(f)

    assert new.output_path == old.output_path
    assert config_drift(new.info["config"], recorded) == "unversioned config differs: batch_size 32 \u2192 64"  # type: ignore[index]
    assert config_drift(old.info["config"], recorded) is None  # type: ignore[index]
    assert drift_lines([new, old]) == ["unversioned config differs: batch_size 32 \u2192 64", None]


def test_drift_lists_three_keys_and_counts_the_rest():
    recorded = {"config": {"a": 1, "b": [1, 2], "c": {"d": 1}, "e": 1}}

    drift = config_drift({"a": 2, "b": [1, 3], "c": {"d": 2}, "e": 2}, recorded)

    assert drift == "unversioned config differs: a 1 \u2192 2, b.[1] 2 \u2192 3, c.d 1 \u2192 2 and 1 more"


def test_of_many_earlier_outputs_only_the_last_modified_are_read(prefix):
    from marin_exec.run.earlier import MAX_READ

    for i in range(MAX_READ + 2):
        os.makedirs(f"{prefix}/models/x-00000{i}")
        with open(f"{prefix}/models/x-00000{i}/.executor_info", "w") as f:
            json.dump({"version": {}, "end_time": f"2026-01-0{9 - i}"}, f)  # the oldest directory ended last
        os.utime(f"{prefix}/models/x-00000{i}", (1000.0 + i, 1000.0 + i))

    [earlier] = find_earlier([("models/x", f"{prefix}/models/x-ffffff")])

    assert earlier is not None and earlier.name_with_hash == "models/x-000002"


def _configured(prefix: str, i: int, batch: int) -> StepSpec:
    return StepSpec(
        name=f"sweep/s{i}", fn=_noop, hash_attrs={"i": i}, info={"config": {"batch": batch}}, output_path_prefix=prefix
    )


def test_a_real_run_warns_once_for_every_cached_step_whose_config_drifted_in_full_and_partial_batches(prefix, caplog):
    from marin_exec.run.status_readers import BATCH

    count = BATCH + 6  # one batch checked beside the run, the rest after it
    StepRunner().run([_configured(prefix, i, 32) for i in range(count)])
    caplog.clear()

    report = StepRunner().run([_configured(prefix, i, 64) for i in range(count)])

    warned = [r.getMessage() for r in caplog.records if "cached, but its unversioned config" in r.getMessage()]
    assert len(warned) == count and all("batch 32 \u2192 64" in message for message in warned)
    assert all(o.drift == "unversioned config differs: batch 32 \u2192 64" for o in report.outcomes.values())


def test_drift_tells_apart_values_that_python_calls_equal_but_json_records_differently():
    recorded = {"config": {"steps": 1, "scale": 1.0, "flag": True, "order": {"b": 1, "a": 2}}}
    assert config_drift({"steps": 1, "scale": 1.0, "flag": True, "order": {"a": 2, "b": 1}}, recorded) is None
    drift = config_drift({"steps": 1.0, "scale": 1, "flag": 1, "order": {"a": 2, "b": 1}}, recorded)
    assert drift == "unversioned config differs: steps 1 \u2192 1.0, scale 1.0 \u2192 1, flag true \u2192 1"


def test_find_earlier_in_directories_spread_under_a_prefix_on_every_backend(store_root):
    from marin_exec.storage.store import store_for

    steps = [(f"{d}/s", f"{store_root}/run/{d}/deep/s-cccccc") for d in ("a", "b", "c")]
    assert find_earlier(steps) == [None, None, None]  # nothing ran under the prefix yet

    path = f"{store_root}/run/b/deep/s-aaaaaa/.executor_info"
    store_for(path).write(path, json.dumps({"version": {}}).encode())

    found = find_earlier(steps)
    assert found == [None, Earlier(f"{store_root}/run/b/deep/s-aaaaaa", "b/s-aaaaaa", {"version": {}}), None]


LONG = "gs://marin-us-central2/tokenized/fineweb-edu/llama3/shard-{}"  # longer than a shown value


def test_values_that_differ_only_past_the_shown_length_are_compared_in_full_and_shown_by_where_they_differ(prefix):
    """Issue 20 item 5: values were compared after cutting them to 40 characters, so these two looked equal."""
    before = _raw(prefix, LONG.format("0001"))
    _ran(before)

    why = _why(_raw(prefix, LONG.format("0002")))
    drift = config_drift({"data": LONG.format("0002")}, {"config": {"data": LONG.format("0001")}})

    assert (
        why
        == f'url: ...web-edu/llama3/shard-0001" \u2192 ...web-edu/llama3/shard-0002" (was raw/corpus-{before.hash_id})'
    )
    assert (
        drift == 'unversioned config differs: data ...web-edu/llama3/shard-0001" \u2192 ...web-edu/llama3/shard-0002"'
    )


def test_a_value_known_only_by_its_default_repr_is_not_comparable_and_never_drifts():
    """Issue 20 item 6: a default repr holds a memory address, which differs in every process."""
    recorded = {"config": {"tok": "<tok.Tokenizer object at 0x7f3a2c1b5e50>", "fn": "<function f at 0x7f3a2c>"}}

    assert (
        config_drift({"tok": "<tok.Tokenizer object at 0x7f00aa00bb10>", "fn": "<function f at 0x7f11>"}, recorded)
        is None
    )
    assert config_drift(
        {"tok": "<tok.Tokenizer object at 0x7f00aa00bb10>", "fn": "<function g at 0x7f11>"}, recorded
    ) == ('unversioned config differs: fn "<function f at 0x7f3a2c>" \u2192 "<function g at 0x7f11>"')


def _point(prefix: str, lr: float, epochs: int = 1) -> StepSpec:
    return StepSpec(name="models/sweep", fn=_noop, hash_attrs={"lr": lr, "epochs": epochs}, output_path_prefix=prefix)


def test_a_new_sweep_point_never_ran_even_though_its_siblings_of_the_same_name_did(prefix):
    """Issue 20 item 7: a sibling's output, which is part of today's plan, is not an earlier output of another."""
    _ran(_point(prefix, 0.1), _point(prefix, 0.2))
    plan = [_point(prefix, 0.1), _point(prefix, 0.2), _point(prefix, 0.3)]

    assert why_lines([plan[2]], plan) == ["never ran"]


def test_a_run_warns_once_about_steps_that_share_a_name_with_their_count_and_what_differs(prefix, caplog):
    StepRunner().run([_point(prefix, lr, epochs) for lr in (0.1, 0.2) for epochs in (1, 2)] + [_raw(prefix)])

    warned = [r.getMessage() for r in caplog.records if "share the name" in r.getMessage()]
    assert len(warned) == 1 and warned[0].startswith("models/sweep: 4 steps of this plan share the name (hashes ")
    assert "and 1 more) and differ in lr, epochs: " in warned[0]


def test_every_point_of_a_sweep_wider_than_the_read_limit_is_compared_with_its_own_earlier_output(prefix):
    from marin_exec.run.earlier import MAX_READ

    lrs = [round(0.1 * i, 1) for i in range(1, MAX_READ + 3)]
    before = [_point(prefix, lr) for lr in lrs]
    _ran(*before)
    today = [_point(prefix, lr, epochs=2) for lr in lrs]

    assert why_lines(today, today) == [f"epochs: 1 \u2192 2 (was {b.name_with_hash})" for b in before]
