"""`hub config check`, run in this process (`run_cli`) with a controlled environment: a good
configuration passes, and each fault is one clear `problem` line and exit status 1."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from hub.core.jose import PrivateSigningJwk
from hub.keyfile import write_private_jwk
from tests.factories import run_cli


def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    code, out, err = run_cli(["config", "check"], {**base, **env})
    return subprocess.CompletedProcess(["hub", "config", "check"], code, out, err)


def good_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    key = tmp_path / "hub-signing-key.jwk"
    write_private_jwk(key, PrivateSigningJwk.generate())
    return {
        "HUB_DATA_DIR": str(tmp_path),
        "HUB_SIGNING_KEY_FILE": str(key),
        "HUB_DATABASE_URL": database_url,
        "HUB_PORT": "8080",
    }


def problems(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith("problem")]


def test_a_good_configuration_passes(tmp_path: Path, database_url: str) -> None:
    result = run(good_env(tmp_path, database_url))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines
    assert all(line.startswith("ok") for line in lines)
    assert any(line.startswith("ok       database: reachable, schema version") for line in lines)
    assert database_url not in result.stdout  # the URL may carry a password: never printed


def test_a_bad_port(tmp_path: Path, database_url: str) -> None:
    result = run({**good_env(tmp_path, database_url), "HUB_PORT": "http"})
    assert result.returncode == 1
    (line,) = problems(result)
    assert "HUB_PORT must be an integer" in line


def test_a_policy_file_with_a_fault(tmp_path: Path, database_url: str) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "FR.json").write_text(json.dumps({"jurisdiction": "FR", "rules": "none"}))
    result = run({**good_env(tmp_path, database_url), "HUB_POLICY_DIR": str(policies)})
    assert result.returncode == 1
    (line,) = problems(result)
    assert line.startswith("problem  policies: FR.json")
    assert "HUB_POLICY_DIR" in line


def test_a_world_readable_key_file(tmp_path: Path, database_url: str) -> None:
    env = good_env(tmp_path, database_url)
    Path(env["HUB_SIGNING_KEY_FILE"]).chmod(0o644)
    result = run(env)
    assert result.returncode == 1
    (line,) = problems(result)
    assert line.startswith("problem  signing key:")
    assert "chmod 600" in line


def test_a_storage_key_of_the_wrong_size(tmp_path: Path, database_url: str) -> None:
    env = good_env(tmp_path, database_url)
    storage = tmp_path / "hub-storage-key"
    storage.write_text("c2hvcnQ=\n")
    storage.chmod(0o600)
    result = run(env)
    assert result.returncode == 1
    (line,) = problems(result)
    assert line.startswith("problem  storage key:")
    assert "not 32" in line


def test_an_unreachable_database(tmp_path: Path, database_url: str) -> None:
    unreachable = "postgresql://hub:secret-pw@127.0.0.1:1/hub"
    result = run({**good_env(tmp_path, database_url), "HUB_DATABASE_URL": unreachable})
    assert result.returncode == 1
    (line,) = problems(result)
    assert line.startswith("problem  database: cannot reach HUB_DATABASE_URL")
    assert "secret-pw" not in result.stdout + result.stderr
