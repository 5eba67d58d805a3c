"""The deployment files, checked without a Docker engine: the compose file only passes real
settings, every service's command exists, migrations run before the bot, and the image starts the
bot in server mode as a non-root user with a health check on /healthz."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Settings

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
