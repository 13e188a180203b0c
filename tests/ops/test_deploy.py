"""The deployment files in deploy/ are real: the systemd units parse (`systemd-analyze verify`, when this machine has
it) and start simkeep commands that exist; the Prometheus configuration and alert rules load and fire as their own
unit tests say (`promtool`, from Debian's `prometheus` package, when installed)."""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from simkeep.cli import app

DEPLOY = Path(__file__).parents[2] / "deploy"
SYSTEMD = DEPLOY / "systemd"
INSTALLED = "/opt/simkeep/.venv/bin/simkeep"  # where the units expect simkeep


def units() -> list[Path]:
    return sorted(p for p in SYSTEMD.iterdir() if p.suffix in (".service", ".timer", ".target"))


def exec_starts(unit: Path) -> list[list[str]]:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(unit)
    return [shlex.split(parser["Service"][key]) for key in ("ExecStart",) if parser.has_option("Service", key)]


def test_every_unit_runs_a_simkeep_command_that_exists():
    runner = CliRunner()
    ran = []
    for unit in units():
        for argv in exec_starts(unit):
            if argv[0] != INSTALLED:
                continue
            words = [a for a in argv[1:] if not a.startswith("-") and not a.isdigit()]
            result = runner.invoke(app, [*words, "--help"])
            assert result.exit_code == 0, f"{unit.name}: simkeep {' '.join(words)}: {result.output}"
            ran.append(" ".join(words))
    assert sorted(ran) == ["db upgrade", "serve", "worker"]
    assert typer.main.get_command(app)  # the CLI the units call is the one this checkout installs


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_units_parse_with_systemd_analyze(tmp_path):
    simkeep = Path(shutil.which("simkeep") or Path(sys.executable).parent / "simkeep")
    for unit in units():  # the installed path replaced by this checkout's, which verify checks is executable
        name = unit.name.replace("@.service", "@1.service")
        (tmp_path / name).write_text(unit.read_text().replace(INSTALLED, str(simkeep)))
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *sorted(p.name for p in tmp_path.iterdir())],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")  # unknown keys and bad values are warnings on stderr


def promtool() -> str | None:
    return os.environ.get("PROMTOOL") or shutil.which("promtool")


@pytest.mark.skipif(promtool() is None, reason="promtool is not installed (Debian: apt-get install prometheus)")
def test_the_prometheus_config_and_alert_rules_load_and_fire(tmp_path):
    for name in ("prometheus.yml", "simkeep-rules.yml", "simkeep-rules.test.yml"):
        shutil.copy(DEPLOY / "prometheus" / name, tmp_path / name)
    token = tmp_path / "token"
    token.write_text("metrics-token-0123456789abcdefghijklmnopqrstuv\n")
    config = tmp_path / "prometheus.yml"
    config.write_text(config.read_text().replace("/etc/prometheus/simkeep-metrics-token", str(token)))
    for args in (["check", "config", "prometheus.yml"], ["check", "rules", "simkeep-rules.yml"],
                 ["test", "rules", "simkeep-rules.test.yml"]):
        result = subprocess.run([promtool(), *args], cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
