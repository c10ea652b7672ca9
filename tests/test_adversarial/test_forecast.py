"""``kpi forecast`` with bad arguments and hostile data: one error line, no traceback, safe
output (see the rules in ``test_cli.py``)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from .conftest import (
    SAMPLES,
    assert_no_traceback,
    assert_one_error,
    assert_terminal_safe,
    run_kpi,
)

BAD = [
    (["--horizon", "0d"], "bad horizon '0d'"),
    (["--horizon", "7"], "bad horizon '7'"),
    (["--horizon", "999d"], "at most 366 days"),
    (["--horizon", "45m", "--every", "30m"], "whole number of 30m intervals"),
    (["--every", "6m"], "--every must be one of"),
    (["--every", "1w"], "--every must be one of"),
    (["--level", "100"], "--level"),
    (["--level", "nan"], "--level"),
    (["--method", "prophet"], "--method"),
    (["--metric", "csat"], "--metric"),
    (["--by", "nope"], "unknown column 'nope'"),
    (["--until", "2026-01-03"], "too little history"),
    (["--until", "2020-01-01"], "no contacts_offered"),
    (["--until", "3000-01-01"], "out of range"),
    (["--until", "soon"], "--until"),
    (["--country", "XX"], "unknown country 'XX'"),
]


@pytest.mark.parametrize(("args", "fragment"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_arguments_give_one_error_line(args, fragment):
    result = run_kpi("forecast", "--data", SAMPLES, *args)
    assert_one_error(result, "forecast", fragment, rc=2)


def test_missing_data_directory(tmp_path):
    result = run_kpi("forecast", "--data", tmp_path / "none")
    assert_one_error(result, "forecast", "does not exist", rc=2)


def test_hostile_group_names_stay_inert(hostile_dataset):
    for fmt in ("md", "csv", "json"):
        result = run_kpi(
            "forecast",
            "--data",
            hostile_dataset,
            "--by",
            "queue",
            "--every",
            "1h",
            "--horizon",
            "1d",
            "--format",
            fmt,
        )
        assert_no_traceback(result.stdout, result.stderr)
        if result.rc != 0:  # a tiny dataset may be too short: then one clean error line
            assert_one_error(result, "forecast", "too little history")
            continue
        assert_terminal_safe(result.stderr)
        if fmt == "csv":
            for row in csv.reader(io.StringIO(result.stdout)):
                assert not row[0].startswith(("=", "+", "@", "\t")), row[0]
        elif fmt == "json":
            json.loads(result.stdout)
        else:
            assert_terminal_safe(result.stdout)
