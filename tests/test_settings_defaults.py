"""Each setting's default lives in one place: its dataclass field (issue 15).

`from_env` derives everything from the fields' declarations, so an empty environment gives exactly the
dataclass defaults, every field names its variable, and every variable is documented for operators.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hub.settings import DeliverySettings, LimitSettings, MailSettings, Settings, SettingsError

ROOT = Path(__file__).resolve().parents[1]
GROUPS = (Settings, DeliverySettings, MailSettings, LimitSettings)


def test_an_empty_environment_gives_the_declared_defaults(tmp_path: Path) -> None:
    from_env = Settings.from_env({"HUB_DATA_DIR": str(tmp_path)})
    declared = Settings(data_dir=tmp_path, signing_key_file=tmp_path / "hub-signing-key.jwk")
    assert from_env == declared


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: g.__name__)
def test_every_setting_names_its_variable_and_the_operations_docs_list_it(group: type) -> None:
    docs = (ROOT / "docs" / "operations.md").read_text("utf-8") + (ROOT / "README.md").read_text("utf-8")
    nested = {"delivery", "mail", "limits"}
    for f in dataclasses.fields(group):
        if f.name in nested:
            continue
        name = f.metadata.get("env")
        assert name, f"{group.__name__}.{f.name} has no variable"
        assert name.startswith("HUB_"), name
        assert name in docs, f"{name} is not documented"


def test_each_variable_is_parsed_by_its_declared_type_and_bounds(tmp_path: Path) -> None:
    env = {
        "HUB_DATA_DIR": str(tmp_path),
        "HUB_PORT": "9",
        "HUB_SMTP_STARTTLS": "no",
        "HUB_RETRY_BASE_SECONDS": "3.5",
        "HUB_MAX_CONNECTIONS": "64",
        "HUB_METRICS_TOKEN_FILE": str(tmp_path / "token"),
    }
    settings = Settings.from_env(env)
    assert settings.port == 9
    assert settings.mail.smtp_starttls is False
    assert settings.delivery.retry_base_seconds == 3.5
    assert settings.limits.max_connections == 64
    assert settings.metrics_token_file == tmp_path / "token"
    with pytest.raises(SettingsError, match="HUB_MAX_CONNECTIONS must be between"):
        Settings.from_env({**env, "HUB_MAX_CONNECTIONS": "2"})
    with pytest.raises(SettingsError, match="HUB_HEADER_TIMEOUT_SECONDS must be a number"):
        Settings.from_env({**env, "HUB_HEADER_TIMEOUT_SECONDS": "soon"})


def test_the_operations_table_is_the_declared_settings() -> None:
    from hub.settings import settings_reference

    assert settings_reference() in (ROOT / "docs" / "operations.md").read_text("utf-8")
