"""Validate docker-compose.yml without a Docker engine (CI has none).

`docker compose config` runs too when the client has the plugin. Otherwise: the YAML parses
(anchors and merge keys resolved), every service has an image or a build, dependencies and
named volumes exist, long-running services restart and the stateful ones have health checks,
every `${VAR:?…}` it requires is in .env.example, and every `manage.py` command it runs exists.
"""

import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
REQUIRED_SERVICES = {
    "postgres",
    "rabbitmq",
    "migrate",
    "web",
    "worker",
    "bot",
    "dispatcher",
    "alerts",
}
HEALTHCHECKED = {"postgres", "rabbitmq", "web"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


def manage_commands() -> set[str]:
    out = subprocess.run(
        [sys.executable, "manage.py", "help", "--commands"],
        cwd=ROOT,
        # The settings load only with a real key; listing commands needs no particular one.
        env={**os.environ, "DJANGO_SECRET_KEY": secrets.token_urlsafe(50)},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return set(out.split())


def problems(path: Path) -> list[str]:
    text = path.read_text()
    spec = yaml.safe_load(text)
    services = spec.get("services") or {}
    found = []
    missing = REQUIRED_SERVICES - services.keys()
    if missing:
        found.append(f"missing services: {sorted(missing)}")
    declared_volumes = set((spec.get("volumes") or {}).keys())
    commands = manage_commands()
    for name, svc in services.items():
        if not ("image" in svc or "build" in svc):
            found.append(f"{name}: neither image nor build")
        deps = svc.get("depends_on") or {}
        for dep, cond in deps.items() if isinstance(deps, dict) else ((d, {}) for d in deps):
            if dep not in services:
                found.append(f"{name}: depends on unknown service {dep!r}")
            if dep == name:
                found.append(f"{name}: depends on itself")
            if cond and cond.get("condition") not in CONDITIONS:
                found.append(f"{name}: unknown condition {cond.get('condition')!r}")
            if cond.get("condition") == "service_healthy" and "healthcheck" not in services.get(
                dep, {}
            ):
                found.append(f"{name}: waits for {dep} to be healthy, which has no healthcheck")
        for volume in svc.get("volumes") or []:
            source = str(volume).split(":", 1)[0]
            if not source.startswith((".", "/")) and source not in declared_volumes:
                found.append(f"{name}: volume {source!r} is not declared")
        if name in HEALTHCHECKED and "healthcheck" not in svc:
            found.append(f"{name}: no healthcheck")
        if svc.get("restart") not in ("always", "unless-stopped", "on-failure", "no"):
            found.append(f"{name}: no restart policy")
        command = svc.get("command") or []
        if "manage.py" in command:
            sub = command[command.index("manage.py") + 1]
            if sub not in commands:
                found.append(f"{name}: manage.py has no command {sub!r}")
    example = (ROOT / ".env.example").read_text()
    for var in sorted(set(re.findall(r"\$\{(\w+):\?", text))):
        if not re.search(rf"^{var}=", example, re.M):
            found.append(f"${{{var}}} is required but not in .env.example")
    return found


def main() -> int:
    path = ROOT / (sys.argv[1] if len(sys.argv) > 1 else "docker-compose.yml")
    found = problems(path)
    if (
        shutil.which("docker")
        and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    ):
        result = subprocess.run(
            ["docker", "compose", "--env-file", ".env.example", "-f", str(path), "config", "-q"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if result.returncode:
            found.append(f"docker compose config: {result.stderr.strip()}")
    for problem in found:
        print(f"{path.name}: {problem}")
    if not found:
        print(f"{path.name}: ok")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
