"""The ``cc-segmentation`` command and ``python -m cc_segmentation``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cc_segmentation.cli import SUMMARIES, main
from cc_segmentation.data.sample import write_sample

# Options each subcommand's --help must name.
OPTIONS = {
    "build": ["dbt build", "--select", "--full-refresh", "--vars"],
    "sample": ["--rows", "--seed", "--out", "--chunk-size", "--format"],
    "dashboard": ["streamlit run", "--server.port"],
    "serve": ["--warehouse", "--host", "--port", "--no-access-log"],
    "reports": ["--warehouse", "--out"],
    "calibrate": ["csv_path", "--out", "--no-fit"],
}


def help_of(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines


def test_the_command_lists_its_subcommands(capsys):
    text = help_of(capsys)
    assert set(OPTIONS) == set(SUMMARIES)
    for name, summary in SUMMARIES.items():
        assert name in text and " ".join(summary.split()) in text


@pytest.mark.parametrize("command", sorted(OPTIONS))
def test_each_subcommand_says_what_it_does_and_its_options(capsys, command):
    text = help_of(capsys, command)
    assert text.startswith(f"usage: cc-segmentation {command}")
    for option in OPTIONS[command]:
        assert option in text


def test_an_unknown_option_is_refused_where_nothing_passes_it_on(capsys):
    with pytest.raises(SystemExit) as done:
        main(["sample", "--no-such-option"])
    assert done.value.code == 2
    assert "unrecognized arguments: --no-such-option" in capsys.readouterr().err


def test_reports_without_a_warehouse_names_the_build_command(tmp_path, capsys):
    with pytest.raises(SystemExit) as done:
        main(["reports", "--warehouse", str(tmp_path / "none.duckdb")])
    assert done.value.code == 1
    assert "build it first (cc-segmentation build" in capsys.readouterr().err


def test_python_m_sample_writes_the_same_bytes_as_the_function(tmp_path):
    out = tmp_path / "by_command.csv"
    done = subprocess.run(
        [sys.executable, "-m", "cc_segmentation", "sample",
         "--rows", "100", "--seed", "1", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == f"wrote 100 rows to {out}"
    expected = write_sample(tmp_path / "by_function.csv", 100, 1)
    assert out.read_bytes() == expected.read_bytes()


def test_python_m_cc_segmentation_is_the_command(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "cc_segmentation", "build", "--help"],
        # the build's lock file goes beside this warehouse, not the repo's
        env=dict(os.environ, CC_SEGMENTATION_WAREHOUSE=str(tmp_path / "w.duckdb")),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: cc-segmentation build [-h]")
    assert "--select" in done.stdout


def test_the_console_script_where_it_is_installed():
    script = Path(sys.executable).with_name("cc-segmentation")
    if not script.exists():
        pytest.skip("cc-segmentation is not installed in this environment")
    done = subprocess.run(
        [str(script), "build", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "usage: cc-segmentation build" in done.stdout
