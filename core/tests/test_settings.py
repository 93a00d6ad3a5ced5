"""Core and plugin settings: environment, TOML file, explicit values, and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pcm_ops.discovery import discover
from pcm_ops.errors import ConfigError
from pcm_ops.settings import load_settings


@pytest.fixture
def clean_environment(make_pcm_settings):
    """``make_pcm_settings`` removes the developer's PCM_* variables; tests set their own."""
    return make_pcm_settings


@pytest.fixture
def write_config(tmp_path: Path):
    def write(text: str) -> Path:
        path = tmp_path / "pcm-ops.toml"
        path.write_text(text)
        return path

    return write


def test_comma_separated_plugin_lists_are_read_from_the_environment(clean_environment, monkeypatch):
    monkeypatch.setenv("PCM_PLUGINS", "alpha, beta,,gamma ")
    monkeypatch.setenv("PCM_DISABLED_PLUGINS", "beta")
    monkeypatch.setenv("PCM_STRICT_PLUGINS", "1")

    settings = load_settings()

    assert settings.plugins == ["alpha", "beta", "gamma"]
    assert settings.disabled_plugins == ["beta"]
    assert settings.strict_plugins is True


def test_postgresql_urls_get_an_async_driver(clean_environment, monkeypatch):
    monkeypatch.setenv("PCM_DATABASE_URL", "postgresql://pcm@db.example.com:5432/pcm")

    settings = load_settings()

    assert settings.database_url == "postgresql+psycopg://pcm@db.example.com:5432/pcm"


def test_the_config_file_sets_core_keys(clean_environment, write_config):
    path = write_config('port = 9000\nplugins = ["alpha"]\nlog_level = "DEBUG"\n')

    settings = load_settings(path)

    assert (settings.port, settings.plugins, settings.log_level) == (9000, ["alpha"], "debug")
    assert settings.config_file == path


def test_the_config_file_is_found_through_pcm_config(clean_environment, write_config, monkeypatch):
    monkeypatch.setenv("PCM_CONFIG", str(write_config("port = 9000\n")))

    assert load_settings().port == 9000


def test_a_plugin_table_is_validated_by_the_plugins_settings_model(
    make_pcm_settings, fixture_plugins, write_config
):
    path = write_config('[alpha]\ngreeting = "bonjour"\nmax_items = 3\n')

    registry = discover(
        make_pcm_settings(config_file=path, plugins=None), entry_points_=fixture_plugins("alpha")
    )

    config = registry.get("alpha").config
    assert (config.greeting, config.max_items) == ("bonjour", 3)


def test_plugin_settings_default_when_the_file_has_no_table(make_pcm_settings, fixture_plugins):
    registry = discover(make_pcm_settings(plugins=None), entry_points_=fixture_plugins("alpha"))

    assert registry.get("alpha").config.greeting == "hello"


def test_plugin_environment_variables_override_the_plugin_table(
    make_pcm_settings, fixture_plugins, write_config, monkeypatch
):
    path = write_config('[alpha]\ngreeting = "bonjour"\nmax_items = 3\n')
    monkeypatch.setenv("PCM_ALPHA__MAX_ITEMS", "7")

    registry = discover(
        make_pcm_settings(config_file=path, plugins=None), entry_points_=fixture_plugins("alpha")
    )

    config = registry.get("alpha").config
    assert (config.greeting, config.max_items) == ("bonjour", 7)


def test_explicit_values_win_over_the_environment_which_wins_over_the_file(
    clean_environment, write_config, monkeypatch
):
    path = write_config("port = 9000\nhost = '10.0.0.1'\nlog_level = 'error'\n")
    monkeypatch.setenv("PCM_PORT", "9001")
    monkeypatch.setenv("PCM_HOST", "10.0.0.2")

    settings = load_settings(path, port=9002)

    assert (settings.port, settings.host, settings.log_level) == (9002, "10.0.0.2", "error")


def test_a_malformed_database_url_is_one_clear_message_naming_database_url(
    clean_environment, monkeypatch
):
    monkeypatch.setenv("PCM_DATABASE_URL", "not a url")

    with pytest.raises(ConfigError) as raised:
        load_settings()

    message = str(raised.value)
    assert message.startswith("invalid setting database_url: 'not a url' is not a database URL")
    assert "\n" not in message


def test_an_unsupported_database_is_named(clean_environment):
    with pytest.raises(ConfigError, match="database_url: database 'mysql' is not supported"):
        load_settings(database_url="mysql://root@localhost/pcm")


def test_a_wrong_type_in_the_config_file_names_the_key(clean_environment, write_config):
    path = write_config('port = "eighty"\n')

    with pytest.raises(ConfigError) as raised:
        load_settings(path)

    assert [key for key, _ in raised.value.problems] == ["port"]
    assert "invalid setting port:" in str(raised.value)


def test_an_unknown_top_level_key_in_the_config_file_is_refused(clean_environment, write_config):
    path = write_config('colour = "blue"\n')

    with pytest.raises(ConfigError) as raised:
        load_settings(path)

    assert raised.value.problems == [("colour", f"unknown setting in {path}")]


def test_several_problems_are_reported_together(clean_environment, write_config, monkeypatch):
    path = write_config('colour = "blue"\nport = "eighty"\n')
    monkeypatch.setenv("PCM_LOG_LEVEL", "loud")

    with pytest.raises(ConfigError) as raised:
        load_settings(path)

    assert sorted(key for key, _ in raised.value.problems) == ["colour", "log_level", "port"]
    assert str(raised.value).startswith("3 invalid settings:\n")


def test_a_config_file_that_is_not_toml_is_named(clean_environment, write_config):
    path = write_config("port = \n")

    with pytest.raises(ConfigError, match=f"invalid setting config: {path} is not valid TOML"):
        load_settings(path)


def test_a_missing_config_file_is_named(clean_environment, tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")


def test_a_section_for_a_plugin_that_is_not_installed_is_refused(
    make_pcm_settings, fixture_plugins, write_config
):
    path = write_config("[gamma]\nanswer = 42\n")

    with pytest.raises(ConfigError) as raised:
        discover(
            make_pcm_settings(config_file=path, plugins=None),
            entry_points_=fixture_plugins("alpha"),
        )

    assert raised.value.problems == [("gamma", "no installed plugin has this id; installed: alpha")]


def test_invalid_plugin_settings_name_the_plugin_and_the_field(
    make_pcm_settings, fixture_plugins, write_config
):
    path = write_config('[alpha]\nmax_items = "many"\n')

    with pytest.raises(ConfigError) as raised:
        discover(
            make_pcm_settings(config_file=path, plugins=None),
            entry_points_=fixture_plugins("alpha"),
        )

    assert [key for key, _ in raised.value.problems] == ["alpha.max_items"]


def test_a_table_for_a_plugin_without_settings_is_refused(
    make_pcm_settings, fixture_plugins, write_config
):
    path = write_config("[beta]\nanswer = 42\n")

    with pytest.raises(ConfigError) as raised:
        discover(
            make_pcm_settings(config_file=path, plugins=None),
            entry_points_=fixture_plugins("beta"),
        )

    assert raised.value.problems == [("beta", "this plugin has no settings")]


def test_an_empty_database_url_in_the_environment_means_unset(clean_environment, monkeypatch):
    monkeypatch.setenv("PCM_DATABASE_URL", "")

    settings = load_settings()

    assert settings.database_url is None
    assert settings.is_sqlite


def test_an_empty_database_url_in_the_environment_leaves_the_config_files_value(
    clean_environment, write_config, monkeypatch
):
    path = write_config('database_url = "postgresql://pcm@db.example.com/pcm"\n')
    monkeypatch.setenv("PCM_DATABASE_URL", "")

    settings = load_settings(path)

    assert settings.database_url == "postgresql+psycopg://pcm@db.example.com/pcm"


def test_empty_data_dir_and_executor_id_mean_unset_too(clean_environment, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", "/srv/data")
    monkeypatch.setenv("PCM_DATA_DIR", " ")
    monkeypatch.setenv("PCM_EXECUTOR_ID", "")

    settings = load_settings()

    assert settings.data_dir == Path("/srv/data/pcm-ops")
    assert settings.executor_id is None


def test_plugin_sections_given_as_overrides_win_over_the_files_by_plugin(
    clean_environment, tmp_path
):
    config = tmp_path / "pcm.toml"
    config.write_text('[notes]\ngreeting = "Hi"\n[other]\nlevel = 1\n')

    settings = load_settings(config, plugin_sections={"notes": {"greeting": "Ahoy"}})

    assert settings.plugin_sections == {"notes": {"greeting": "Ahoy"}, "other": {"level": 1}}
