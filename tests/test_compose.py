"""docker-compose.yml is checked without a Docker engine (scripts/check_compose.py)."""

from pathlib import Path

import yaml

from scripts.check_compose import problems

ROOT = Path(__file__).resolve().parent.parent


def test_compose_file_is_valid():
    assert problems(ROOT / "docker-compose.yml") == []


def test_checker_catches_mistakes(tmp_path):
    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    spec["services"]["worker"]["command"] = ["python", "manage.py", "rundramatiqq"]
    spec["services"]["web"]["depends_on"] = {"redis": {"condition": "service_healthy"}}
    spec["services"]["dispatcher"]["volumes"] = ["undeclared:/data"]
    del spec["services"]["postgres"]["healthcheck"]
    broken = tmp_path / "compose.yml"
    broken.write_text(yaml.safe_dump(spec))
    found = "\n".join(problems(broken))
    assert "worker: manage.py has no command 'rundramatiqq'" in found
    assert "web: depends on unknown service 'redis'" in found
    assert "dispatcher: volume 'undeclared' is not declared" in found
    assert "postgres: no healthcheck" in found
