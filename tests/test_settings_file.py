"""Settings: the environment over an optional HUB_CONFIG_FILE of HUB_NAME=value lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.settings import Settings, SettingsError


def test_the_file_gives_settings_and_the_environment_overrides_them(tmp_path: Path) -> None:
    config = tmp_path / "hub.env"
    config.write_text("# a deployment's settings\nHUB_ID=national-hub\nHUB_PORT=9000\nHUB_HOST=0.0.0.0\n\n")
    settings = Settings.from_env(
        {"HUB_CONFIG_FILE": str(config), "HUB_PORT": "9100", "HUB_DATA_DIR": str(tmp_path)}
    )
    assert (settings.hub_id, settings.port, settings.host) == ("national-hub", 9100, "0.0.0.0")


@pytest.mark.parametrize("line", ["PORT=9000", "HUB_PORT", "HUB_CONFIG_FILE=/elsewhere"])
def test_a_malformed_line_is_refused_with_its_number(tmp_path: Path, line: str) -> None:
    config = tmp_path / "hub.env"
    config.write_text(f"HUB_ID=x\n{line}\n")
    with pytest.raises(SettingsError, match="line 2"):
        Settings.from_env({"HUB_CONFIG_FILE": str(config)})


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot be read"):
        Settings.from_env({"HUB_CONFIG_FILE": str(tmp_path / "nowhere.env")})
