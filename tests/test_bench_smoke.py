"""A quick run of the benchmark harness: it keeps working, and the Redis commands per request of every
dualsessions stack stay within 1 to read, 2 to change, 1 for a new visitor (counts are deterministic;
timings are not, so they are not asserted)."""

from __future__ import annotations

import pytest

from benchmarks import bench


def test_benchmark_smoke_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--smoke"]) == 0
    out = capsys.readouterr().out
    for stack in (
        "dualsessions ASGI, RedisStore",
        "dualsessions ASGI, RedisStore, idle_timeout=30 min",  # the options cost no command either
        "dualsessions ASGI, RedisStore, absolute_timeout=8 h",
        "dualsessions ASGI, RedisStore, session_header",
        "dualsessions ASGI, RedisStore, track_devices",
        "dualsessions ASGI, RedisStore, event_hooks=[a no-op]",
        "dualsessions WSGI (Werkzeug), RedisStore",
        "dualsessions Flask, RedisStore",
    ):
        (row,) = [line for line in out.splitlines() if line.startswith(f"| {stack} |")]
        assert row.rstrip().endswith("| 1 / 2 / 1 |"), row


def test_a_run_in_several_processes_reports_each_ones_ratios(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--smoke", "--processes", "2"]) == 0
    out = capsys.readouterr().out
    assert "| each process: lowest to highest |" in out
    (row,) = [line for line in out.splitlines() if line.startswith("| ASGI Redis read") and "floor" in line]
    cells = row.split(" | ")
    middle, (lowest, highest) = float(cells[1]), (float(ratio) for ratio in cells[3].split(" to "))
    assert 0 < lowest <= middle <= highest
    # the processes' commands: the Redis server the parent started, counted in each worker
    (row,) = [line for line in out.splitlines() if line.startswith("| dualsessions ASGI, RedisStore |")]
    assert row.rstrip().endswith("| 1 / 2 / 1 |"), row


def test_command_limits_are_enforced() -> None:
    stack = bench.Stack("dualsessions ASGI, RedisStore", "asgi", "starlette", bench.asgi_bare, redis=True)
    timings = {(stack.name, f"{scenario}:commands"): 1.0 for scenario in bench.SCENARIOS}
    assert bench.check_command_counts([stack], timings) == 0
    timings[stack.name, "read:commands"] = 2.0  # a second command on every read
    assert bench.check_command_counts([stack], timings) == 1
