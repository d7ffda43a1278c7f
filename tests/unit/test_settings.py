"""Settings: every documented variable from the environment and from `.env`, and the errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.settings import Settings, load_settings

ALL_VARS = (
    "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL",
    "MAXCARE_API_KEY", "MAXCARE_ORGANIZATION_ID", "MAXCARE_API_URL",
    "MAXCARE_RATE_LIMIT_PER_MINUTE", "MAXCARE_TIMEOUT_SECONDS", "DATABASE_PATH", "PORT",
    "BOT_ADMINS", "LOG_LEVEL", "LOG_FORMAT", "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET",
    "TOKEN_ENCRYPTION_KEY",
)

BOT_TOKEN = "xoxb-1111-2222-sEcReTbOtToKeN"
SIGNING = "s1gn1ng-SECRET-value"
APP_TOKEN = "xapp-1-A0-SECRETAPPTOKEN"
API_KEY = "max_prd_ak_SECRETAPIKEY123"
ORG = "org_0123456789abcdef0123456789abcdef"

REQUIRED = {
    "SLACK_BOT_TOKEN": BOT_TOKEN,
    "SLACK_SIGNING_SECRET": SIGNING,
    "MAXCARE_API_KEY": API_KEY,
    "MAXCARE_ORGANIZATION_ID": ORG,
}

EVERYTHING = {
    **REQUIRED,
    "SLACK_APP_TOKEN": APP_TOKEN,
    "SLACK_API_URL": "https://slack-gov.com/api",
    "MAXCARE_API_URL": "https://staging.maxcare.example/v4",
    "MAXCARE_RATE_LIMIT_PER_MINUTE": "120",
    "MAXCARE_TIMEOUT_SECONDS": "2.5",
    "DATABASE_PATH": "data/tasks.db",
    "PORT": "8080",
    "BOT_ADMINS": "UADMIN1,UADMIN2",
    "LOG_LEVEL": "DEBUG",
    "LOG_FORMAT": "json",
}


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No variable from the developer's shell and no stray `.env`: an empty working directory."""
    for name in ALL_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def set_env(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for key, value in values.items():
        monkeypatch.setenv(key, value)


def write_dotenv(directory: Path, values: dict[str, str]) -> None:
    lines = [f"{key}={value}" for key, value in values.items()]
    (directory / ".env").write_text("\n".join(lines) + "\n", encoding="utf-8")


def config_error(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> str:
    set_env(monkeypatch, values)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "\n" not in message, message
    return message


def assert_all_read(s: Settings) -> None:
    assert s.slack_bot_token.get_secret_value() == BOT_TOKEN
    assert s.slack_signing_secret is not None
    assert s.slack_signing_secret.get_secret_value() == SIGNING
    assert s.slack_app_token is not None
    assert s.slack_app_token.get_secret_value() == APP_TOKEN
    assert s.socket_mode is True
    assert s.slack_api_url == "https://slack-gov.com/api/"
    assert s.maxcare_api_key.get_secret_value() == API_KEY
    assert s.maxcare_organization_id == ORG
    assert s.maxcare_api_url == "https://staging.maxcare.example/v4"
    assert s.maxcare_rate_limit_per_minute == 120
    assert s.maxcare_timeout_seconds == 2.5
    assert s.database_path == Path("data/tasks.db")
    assert s.port == 8080
    assert s.admin_ids == frozenset({"UADMIN1", "UADMIN2"})
    assert s.log_level == "DEBUG"
    assert s.log_format == "json"


def test_every_variable_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, EVERYTHING)
    assert_all_read(load_settings())


def test_every_variable_from_dotenv(clean_env: Path) -> None:
    write_dotenv(clean_env, EVERYTHING)
    assert_all_read(load_settings())


def test_environment_wins_over_dotenv(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_dotenv(clean_env, {**REQUIRED, "PORT": "1111"})
    monkeypatch.setenv("PORT", "2222")
    assert load_settings().port == 2222


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, REQUIRED)
    s = load_settings()
    assert s.slack_app_token is None
    assert s.socket_mode is False
    assert s.slack_api_url == "https://slack.com/api/"
    assert s.maxcare_api_url == "https://api.maxcare.ai/v4"
    assert s.maxcare_rate_limit_per_minute == 1000
    assert s.maxcare_timeout_seconds == 10
    assert s.database_path == Path("bot.db")
    assert s.port == 3000
    assert s.admin_ids == frozenset()
    assert s.log_level == "INFO"
    assert s.log_format == "text"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://127.0.0.1:9/api", "http://127.0.0.1:9/api/"),
        ("http://127.0.0.1:9/api/", "http://127.0.0.1:9/api/"),
        ("https://slack-gov.com/api", "https://slack-gov.com/api/"),
    ],
)
def test_slack_api_url_ends_with_slash(
    monkeypatch: pytest.MonkeyPatch, given: str, expected: str
) -> None:
    set_env(monkeypatch, {**REQUIRED, "SLACK_API_URL": given})
    assert load_settings().slack_api_url == expected


@pytest.mark.parametrize("name", ["SLACK_BOT_TOKEN", "MAXCARE_API_KEY", "MAXCARE_ORGANIZATION_ID"])
def test_missing_required_variable_is_named(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    values = {k: v for k, v in REQUIRED.items() if k != name}
    message = config_error(monkeypatch, values)
    assert name in message
    for secret in (BOT_TOKEN, SIGNING, API_KEY):
        assert secret not in message


def test_missing_variable_in_dotenv_is_named(clean_env: Path) -> None:
    write_dotenv(clean_env, {k: v for k, v in REQUIRED.items() if k != "MAXCARE_API_KEY"})
    with pytest.raises(ConfigError, match="MAXCARE_API_KEY"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SLACK_BOT_TOKEN", "xoxp-1111-USERtokenSECRET"),
        ("SLACK_BOT_TOKEN", "plainSECRETtoken"),
        ("SLACK_APP_TOKEN", "xoxb-notAnAppTokenSECRET"),
        ("MAXCARE_API_KEY", "sk_live_SECRETkey"),
        ("MAXCARE_API_KEY", "max_stg_ak_SECRETkey"),
        ("MAXCARE_ORGANIZATION_ID", "   "),
        ("SLACK_API_URL", "slack.com/api/"),
        ("MAXCARE_API_URL", "ftp://maxcare/v4"),
        ("PORT", "abc"),
        ("PORT", "70000"),
        ("LOG_LEVEL", "LOUD"),
        ("LOG_FORMAT", "xml"),
        ("MAXCARE_RATE_LIMIT_PER_MINUTE", "0"),
        ("MAXCARE_RATE_LIMIT_PER_MINUTE", "many"),
        ("MAXCARE_TIMEOUT_SECONDS", "0"),
    ],
)
def test_malformed_value_is_named_not_echoed(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    message = config_error(monkeypatch, {**REQUIRED, name: value})
    assert name in message
    if len(value.strip()) > 3:  # short values ("0", "abc") may occur in any sentence
        assert value not in message
    for secret in (BOT_TOKEN, SIGNING, API_KEY):
        assert secret not in message


def test_several_problems_make_one_line_naming_each(monkeypatch: pytest.MonkeyPatch) -> None:
    message = config_error(
        monkeypatch,
        {"SLACK_BOT_TOKEN": "xoxp-SECRET", "SLACK_SIGNING_SECRET": SIGNING, "PORT": "abc"},
    )
    for name in ("SLACK_BOT_TOKEN", "PORT", "MAXCARE_API_KEY", "MAXCARE_ORGANIZATION_ID"):
        assert name in message
    assert "xoxp-SECRET" not in message


def test_log_level_is_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, {**REQUIRED, "LOG_LEVEL": "warning"})
    assert load_settings().log_level == "WARNING"


@pytest.mark.parametrize("secret", [None, ""])
def test_http_mode_needs_the_signing_secret(
    monkeypatch: pytest.MonkeyPatch, secret: str | None
) -> None:
    values = {k: v for k, v in REQUIRED.items() if k != "SLACK_SIGNING_SECRET"}
    if secret is not None:
        values["SLACK_SIGNING_SECRET"] = secret
    message = config_error(monkeypatch, values)
    assert "SLACK_SIGNING_SECRET" in message


def test_socket_mode_runs_without_signing_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {k: v for k, v in REQUIRED.items() if k != "SLACK_SIGNING_SECRET"}
    set_env(monkeypatch, {**values, "SLACK_APP_TOKEN": APP_TOKEN})
    s = load_settings()
    assert s.socket_mode is True
    assert s.slack_signing_secret is None


def test_empty_app_token_means_http_mode(clean_env: Path) -> None:
    # .env.example ships `SLACK_APP_TOKEN=` (empty): that is HTTP mode, not a bad token.
    write_dotenv(clean_env, {**REQUIRED, "SLACK_APP_TOKEN": ""})
    s = load_settings()
    assert s.slack_app_token is None
    assert s.socket_mode is False


def test_repr_and_str_never_show_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, EVERYTHING)
    s = load_settings()
    for shown in (repr(s), str(s), repr(s.model_dump()), s.model_dump_json()):
        for secret in (BOT_TOKEN, SIGNING, APP_TOKEN, API_KEY):
            assert secret not in shown
    assert ORG in repr(s)  # not a secret: proves repr shows the settings at all


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", frozenset()),
        ("UADMIN", frozenset({"UADMIN"})),
        ("UA1,UA2", frozenset({"UA1", "UA2"})),
        (" UA1 , ,UA2 ,, ", frozenset({"UA1", "UA2"})),
        ("UA1,UA1", frozenset({"UA1"})),
        ("WENTERPRISE1", frozenset({"WENTERPRISE1"})),
    ],
)
def test_bot_admins_parsing(monkeypatch: pytest.MonkeyPatch, raw: str, expected: frozenset) -> None:
    set_env(monkeypatch, {**REQUIRED, "BOT_ADMINS": raw})
    assert load_settings().admin_ids == expected


def test_unrelated_dotenv_lines_are_ignored(clean_env: Path) -> None:
    write_dotenv(clean_env, {**REQUIRED, "SOMETHING_ELSE": "x", "DATABASE_PATH": "other.db"})
    assert load_settings().database_path == Path("other.db")


def test_retry_window_is_configurable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from bot.settings import load_settings as load

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    monkeypatch.setenv("MAXCARE_API_KEY", "max_dev_ak_1")
    monkeypatch.setenv("MAXCARE_ORGANIZATION_ID", "org_1")
    assert load().maxcare_retry_window_seconds == 600
    monkeypatch.setenv("MAXCARE_RETRY_WINDOW_SECONDS", "30")
    assert load().maxcare_retry_window_seconds == 30
    monkeypatch.setenv("MAXCARE_RETRY_WINDOW_SECONDS", "0")
    with pytest.raises(Exception, match="MAXCARE_RETRY_WINDOW_SECONDS"):
        load()


# -- one workspace or many ---------------------------------------------------------------

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "c1ient-SECRET-value"
KEY = "0Y2fXwO6dBGbVbU3Jt8mQjG9yXq0cKJ8h3lZ1xN5aPE="  # a valid Fernet key, for tests only
OLD_KEY = "Zm9yLXRlc3RzLW9ubHktYW4tb2xkLWZlcm5ldC1rZXk="
MANY = {
    "SLACK_CLIENT_ID": CLIENT_ID,
    "SLACK_CLIENT_SECRET": CLIENT_SECRET,
    "TOKEN_ENCRYPTION_KEY": KEY,
    "SLACK_SIGNING_SECRET": SIGNING,
    "MAXCARE_API_KEY": API_KEY,
}


def test_single_workspace_mode_is_todays(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, REQUIRED)
    s = load_settings()
    assert s.mode == "single"
    assert s.slack_bot_token is not None and s.slack_bot_token.get_secret_value() == BOT_TOKEN
    assert s.maxcare_organization_id == ORG
    assert s.slack_client_id is None and s.token_encryption_key is None


def test_many_workspace_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, {**MANY, "TOKEN_ENCRYPTION_KEY": f"{KEY}, {OLD_KEY}"})
    s = load_settings()
    assert s.mode == "many"
    assert s.slack_client_id == CLIENT_ID
    assert s.slack_client_secret is not None
    assert s.slack_client_secret.get_secret_value() == CLIENT_SECRET
    assert s.slack_bot_token is None
    with pytest.raises(ConfigError, match="MAXCARE_ORGANIZATION_ID is not used"):
        s.maxcare_organization_id  # noqa: B018 - code that reads it in this mode is a bug
    for shown in (repr(s), s.model_dump_json()):
        for secret in (CLIENT_SECRET, KEY, OLD_KEY, API_KEY):
            assert secret not in shown


@pytest.mark.parametrize(
    "extra",
    [
        {"SLACK_BOT_TOKEN": BOT_TOKEN},
        {"MAXCARE_ORGANIZATION_ID": ORG},
        {"SLACK_BOT_TOKEN": BOT_TOKEN, "MAXCARE_ORGANIZATION_ID": ORG},
    ],
)
def test_both_modes_variables_are_an_error_naming_them(
    monkeypatch: pytest.MonkeyPatch, extra: dict[str, str]
) -> None:
    message = config_error(monkeypatch, {**MANY, **extra})
    for name in (*extra, "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"):
        assert name in message
    assert "set together" in message
    for secret in (BOT_TOKEN, CLIENT_SECRET, KEY):
        assert secret not in message


def test_only_a_client_secret_beside_a_bot_token_is_both_modes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = config_error(monkeypatch, {**REQUIRED, "SLACK_CLIENT_SECRET": CLIENT_SECRET})
    assert "SLACK_BOT_TOKEN" in message and "SLACK_CLIENT_SECRET" in message
    assert "set together" in message


def test_neither_mode_complete_names_both_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    message = config_error(
        monkeypatch, {"SLACK_SIGNING_SECRET": SIGNING, "MAXCARE_API_KEY": API_KEY}
    )
    for name in ("SLACK_BOT_TOKEN", "MAXCARE_ORGANIZATION_ID", "SLACK_CLIENT_ID",
                 "SLACK_CLIENT_SECRET"):  # fmt: skip
        assert name in message


@pytest.mark.parametrize("missing", ["SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"])
def test_half_of_many_workspace_mode_names_the_other_half(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    message = config_error(monkeypatch, {k: v for k, v in MANY.items() if k != missing})
    assert f"{missing} is required in many-workspace mode" in message
    assert CLIENT_SECRET not in message


@pytest.mark.parametrize("value", [None, "", "  "])
def test_many_workspace_mode_needs_the_key_and_says_how_to_make_one(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    values = {k: v for k, v in MANY.items() if k != "TOKEN_ENCRYPTION_KEY"}
    if value is not None:
        values["TOKEN_ENCRYPTION_KEY"] = value
    message = config_error(monkeypatch, values)
    assert "TOKEN_ENCRYPTION_KEY is required" in message
    assert "python -m bot workspaces new-key" in message


def test_the_key_from_dotenv(clean_env: Path) -> None:
    write_dotenv(clean_env, MANY)
    s = load_settings()
    assert s.mode == "many" and s.token_encryption_key is not None


@pytest.mark.parametrize(
    "value",
    [
        "not-a-fernet-key-SECRET",
        KEY[:-4],  # too short
        f"{KEY},garbageSECRETgarbage",  # one good, one bad
        "é" * 44,
    ],
)
def test_malformed_key_is_named_not_echoed(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    message = config_error(monkeypatch, {**MANY, "TOKEN_ENCRYPTION_KEY": value})
    assert "TOKEN_ENCRYPTION_KEY must be Fernet keys" in message
    assert "is required" not in message  # malformed, not missing
    for part in value.split(","):
        assert part not in message
    assert KEY not in message


def test_empty_bot_token_in_dotenv_is_unset(clean_env: Path) -> None:
    # A .env copied from .env.example and switched to many workspaces may keep an empty line.
    write_dotenv(clean_env, {**MANY, "SLACK_BOT_TOKEN": "", "MAXCARE_ORGANIZATION_ID": ""})
    assert load_settings().mode == "many"


def test_malformed_bot_token_and_missing_pieces_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = config_error(
        monkeypatch, {"SLACK_BOT_TOKEN": "xoxp-SECRET", "SLACK_CLIENT_ID": CLIENT_ID}
    )
    for name in ("SLACK_BOT_TOKEN", "SLACK_CLIENT_ID", "MAXCARE_API_KEY"):
        assert name in message
    assert "xoxp-SECRET" not in message
