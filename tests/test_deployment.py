"""The deployment files, checked without a Docker engine: the compose file only passes real
settings, every service's command exists, migrations run before the bot, and the image starts the
bot in server mode as a non-root user with a health check on /healthz."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Settings
from tests.processes import bot_environment

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {name.upper() for name in Settings.model_fields}


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_variable_passed_to_the_bot_is_a_real_setting():
    services = compose()["services"]
    for name in ("bot", "migrate"):
        passed = set(services[name].get("environment", {}))
        assert passed <= SETTINGS, f"{name}: not settings: {passed - SETTINGS}"
    documented = set(
        re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )
    assert documented >= SETTINGS, f"settings missing from .env.example: {SETTINGS - documented}"


def test_every_service_command_exists():
    runner = CliRunner()
    for name in ("bot", "migrate"):
        command = compose()["services"][name]["command"]
        assert command[:3] == ["python", "-m", "bot"]
        result = runner.invoke(app, [*command[3:], "--help"])
        assert result.exit_code == 0, (name, result.output)


def test_migrations_run_once_before_the_bot_and_the_database_is_healthy_first():
    services = compose()["services"]
    assert services["migrate"]["command"][3:] == ["db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    assert services["bot"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert "healthcheck" in services["postgres"] and "postgres-data" in compose()["volumes"]
    assert services["ollama"]["profiles"] == ["ollama"]  # optional, off by default


def test_the_image_runs_server_mode_as_a_non_root_user_with_a_health_check():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.count("\nFROM ") + dockerfile.startswith("FROM") >= 2  # multi-stage
    final_stage = dockerfile.rsplit("\nFROM ", 1)[1]
    assert "USER bot" in final_stage
    cmd = re.search(r"^CMD (\[.*\])$", final_stage, re.M)
    assert cmd is not None and json.loads(cmd.group(1)) == ["python", "-m", "bot", "serve"]
    assert "HEALTHCHECK" in final_stage and "/healthz" in final_stage
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".venv", ".git"} <= set(ignored)


def final_stage_layout(dockerfile: str) -> tuple[list[str], list[str], list[str]]:
    """What the image's last stage copies from the build context into its working directory,
    its health-check command and its start command (exec form)."""
    final_stage = dockerfile.rsplit("\nFROM ", 1)[1]
    copied = [
        line.split()[1]
        for line in final_stage.splitlines()
        if line.startswith("COPY ") and "--from=" not in line
    ]
    health = re.search(r'CMD \["python", "-c", (".*")\]\s*$', final_stage, re.M)
    start = re.search(r"^CMD (\[.*\])$", final_stage, re.M)
    assert health is not None and start is not None
    return copied, ["python", "-c", json.loads(health.group(1))], json.loads(start.group(1))


def test_the_image_layout_migrates_then_serves_and_passes_its_own_health_check(tmp_path):
    """No Docker engine runs here, so this rehearses the image: the package alone on the path (as
    `pip install .` puts it in site-packages, away from the source tree), the working directory
    holding only what the final stage copies, compose's migration command, then the image's start
    command, probed with the image's own HEALTHCHECK command."""
    copied, health_command, start_command = final_stage_layout((ROOT / "Dockerfile").read_text())
    site, workdir = tmp_path / "site-packages", tmp_path / "app"
    shutil.copytree(ROOT / "bot", site / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    for name in copied:
        shutil.copytree(ROOT / name, workdir / name, ignore=shutil.ignore_patterns("__pycache__"))
    (workdir / "data").mkdir()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = bot_environment(
        PYTHONPATH=str(site),
        HTTP_PORT=str(port),
        DATABASE_URL="sqlite:///data/bot.db",
        BANK_CACHE_DIR=str(workdir / "data" / "bank-cache"),
    )
    env.pop("VIRTUAL_ENV", None)

    def python(command: list[str]) -> list[str]:
        assert command[0] == "python"
        return [sys.executable, *command[1:]]

    where = subprocess.run(
        [sys.executable, "-c", "import bot; print(bot.__file__)"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip() == str(site / "bot" / "__init__.py")  # not the source tree
    migrate = compose()["services"]["migrate"]["command"]
    done = subprocess.run(
        python(migrate), cwd=workdir, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    server = subprocess.Popen(
        python(start_command),
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            check = subprocess.run(
                python(health_command), cwd=workdir, env=env, capture_output=True, timeout=30
            )
            if check.returncode == 0 or time.monotonic() > deadline or server.poll() is not None:
                break
            time.sleep(0.3)
        assert check.returncode == 0, check.stderr
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
    assert b"server mode" in output
