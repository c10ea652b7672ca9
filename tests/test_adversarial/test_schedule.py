"""``kpi schedule`` with bad arguments and files: one error line, no traceback."""

from __future__ import annotations

import pytest

from .conftest import SAMPLES, assert_one_error, run_kpi

BASE = ["--data", SAMPLES, "--every", "1h", "--time-limit-s", "20"]

BAD = [
    (["--week", "2026-7"], "bad week '2026-7'"),
    (["--week", "2026-W54"], "has no week 54"),
    (["--week", "2027-W07"], "no contacts in week 2027-W07"),
    (["--week", "2026-W07", "--every", "7m"], "--every"),
    (["--week", "2026-W07", "--time-limit-s", "0"], "--time-limit-s"),
    (["--week", "2026-W07", "--time-limit-s", "nan"], "--time-limit-s"),
    (["--week", "2026-W07", "--shrinkage", "1"], "--shrinkage"),
    (["--week", "2026-W07", "--quantile", "0.9"], "--quantile needs --forecast"),
    (["--week", "2026-W07", "--quantile", "1.5"], "--quantile"),
    (["--week", "2026-W07", "--format", "xlsx"], "--format"),
    (["--week", "2026-W07", "--shifts", "/nonexistent/s.toml"], "does not exist"),
    (["--week", "2026-W07", "--targets", "/nonexistent/t.toml"], "does not exist"),
    (["--week", "2026-W07", "--forecast", "/nonexistent/f.csv"], "does not exist"),
]


@pytest.mark.parametrize(("args", "fragment"), BAD, ids=[" ".join(map(str, a)) for a, _ in BAD])
def test_bad_arguments_give_one_error_line(args, fragment):
    result = run_kpi("schedule", *BASE, *args)
    assert_one_error(result, "schedule", fragment, rc=2)


def test_missing_week():
    assert_one_error(run_kpi("schedule", "--data", SAMPLES), "schedule", "--week", rc=2)


BAD_FILES = [
    ("shifts", "[[shift]\nname=", "not valid TOML"),
    ("shifts", '[[shift]]\nname = "x"\nlength = "8h"\n', "needs length and start"),
    ("shifts", '[[shift]]\nlength = "8h"\nstart = "25:00"\n', "bad time '25:00'"),
    ("shifts", '[[shift]]\nlength = "7h50m"\nstart = "08:00"\n', "whole number of 60-minute"),
    ("shifts", '[[shift]]\nlength = "8h"\nstart = "08:00"\ncolour = 1\n', "unknown key 'colour'"),
    (
        "shifts",
        '[[shift]]\nlength = "8h"\nstart = "08:00"\n[[group]]\nskills = ["voice"]\n'
        "days_per_week = 9\n",
        "days_per_week must be a whole number from 1 to 7",
    ),
    (
        "shifts",
        '[[shift]]\nlength = "8h"\nstart = "08:00"\n',
        "the plan is infeasible: no shift template",
    ),
    (
        "shifts",
        '[[shift]]\nlength = "8h"\nstart = "00:00-23:00"\n[[group]]\nname = "v"\n'
        'skills = ["voice"]\nmax_agents = 2\n[[group]]\nname = "c"\nskills = ["chat", "email"]\n',
        "agent(s) with skill 'voice' can work",
    ),
    ("targets", "[objectives.voice]\nservice_level = 2\n", "service_level must be above 0"),
    ("targets", "[objectives]\nvoice = 3\n", "must be a table"),
    ("forecast", "a,b\n1,2\n", "has no 'period' column"),
    ("forecast", '{"meta": {}, "rows": []}', "not a kpi forecast table"),
]


@pytest.mark.parametrize(
    ("option", "text", "fragment"), BAD_FILES, ids=[f"{o}:{f}" for o, _, f in BAD_FILES]
)
def test_bad_files_give_one_error_line(tmp_path, option, text, fragment):
    path = tmp_path / f"{option}.{'csv' if option == 'forecast' else 'toml'}"
    path.write_text(text)
    result = run_kpi("schedule", *BASE, "--week", "2026-W07", f"--{option}", path)
    assert_one_error(result, "schedule", fragment, rc=2)


def test_forecast_that_misses_the_week(tmp_path):
    path = tmp_path / "fc.csv"
    path.write_text(
        "queue,period,forecast,lower,upper,method\nEmail,2026-03-02 00:00 GMT,1,0,2,x\n"
    )
    result = run_kpi("schedule", *BASE, "--week", "2026-W10", "--forecast", path)
    assert_one_error(result, "schedule", "of the 168 intervals of week 2026-W10", rc=2)
