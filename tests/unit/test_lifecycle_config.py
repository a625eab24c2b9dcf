"""``[lifecycle]`` in node.toml (day_seconds, interval) and the worker's reading of it:
the environment variables AISFS_LC_DAY_SECONDS / AISFS_LC_INTERVAL still win."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aisfs.config import ConfigError, config_from_mapping, load_config
from aisfs_node import lifecycle


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("AISFS_LC_DAY_SECONDS", raising=False)
    monkeypatch.delenv("AISFS_LC_INTERVAL", raising=False)
    yield
    lifecycle.configure(lifecycle.DEFAULT_DAY_SECONDS, lifecycle.DEFAULT_INTERVAL)


def test_defaults_and_typed_values(tmp_path: Path) -> None:
    cfg = config_from_mapping({})
    assert (cfg.lifecycle.day_seconds, cfg.lifecycle.interval) == (86_400.0, 3_600.0)
    f = tmp_path / "node.toml"
    f.write_text("[lifecycle]\nday_seconds = 2\ninterval = 0.5\n")
    cfg = load_config(f)
    assert cfg.lifecycle.day_seconds == 2.0 and isinstance(cfg.lifecycle.day_seconds, float)
    assert cfg.lifecycle.interval == 0.5


@pytest.mark.parametrize("name", ["day_seconds", "interval"])
def test_not_positive_is_refused(name: str, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    with pytest.raises(ConfigError) as e:
        config_from_mapping({"lifecycle": {name: 0}}).resolve()
    assert str(e.value) == f"lifecycle.{name}: must be positive"
    with pytest.raises(ConfigError):
        config_from_mapping({"lifecycle": {"bogus": 1}})


def test_configure_then_environment_wins(clean: None, monkeypatch: pytest.MonkeyPatch) -> None:
    lifecycle.configure(2.0, 7.0)
    assert lifecycle.day_ns() == 2_000_000_000 and lifecycle.interval() == 7.0
    monkeypatch.setenv("AISFS_LC_DAY_SECONDS", "1")
    monkeypatch.setenv("AISFS_LC_INTERVAL", "0.5")
    lifecycle.configure(2.0, 7.0)  # drops the cached day
    assert lifecycle.day_ns() == 1_000_000_000 and lifecycle.interval() == 0.5
