"""Configuration from the environment (and `.env`): the variables the README documents."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError


class DatabaseSettings(BaseSettings):
    """Where the data lives: PostgreSQL when DATABASE_URL is set, else the SQLite file."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    database_path: Path = Path("bot.db")
    database_url: SecretStr | None = None  # it may carry the database password

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value().strip():
            return None
        url = v.get_secret_value().strip()
        scheme, sep, rest = url.partition("://")
        if not sep or scheme.lower() not in ("postgres", "postgresql"):
            raise ValueError("must be a postgresql:// (or postgres://) URL")
        url = f"postgresql://{rest}"  # Heroku's postgres:// spelled as libpq's
        from psycopg import Error, conninfo  # only where PostgreSQL is used

        try:
            conninfo.conninfo_to_dict(url)
        except Error:  # libpq's reason quotes the part it could not read: maybe the password
            raise ValueError("must be a PostgreSQL URL that libpq can read") from None
        return SecretStr(url)


# The two ways to run, by the variables that choose them (load_settings checks the choice).
SINGLE_VARIABLES = ("SLACK_BOT_TOKEN", "MAXCARE_ORGANIZATION_ID")
MANY_VARIABLES = ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET")
NEW_KEY_COMMAND = "python -m bot workspaces new-key"
Mode = Literal["single", "many"]


class Settings(DatabaseSettings):
    """Every setting the app reads; secrets are SecretStr so they never print.

    One workspace (SLACK_BOT_TOKEN and MAXCARE_ORGANIZATION_ID), or many installed through
    Slack's OAuth (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET, tokens kept encrypted with
    TOKEN_ENCRYPTION_KEY, an organization per workspace in the database).
    """

    slack_bot_token: SecretStr | None = None  # single-workspace mode only
    slack_client_id: str | None = None  # many-workspace mode
    slack_client_secret: SecretStr | None = None
    token_encryption_key: SecretStr | None = None  # Fernet keys, comma-separated, newest first
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    maxcare_api_key: SecretStr
    # Read through the maxcare_organization_id property, which is a str wherever it is read:
    # code that has not learnt of many workspaces fails loudly there instead of sending None.
    single_organization_id: str | None = Field(
        default=None, validation_alias=AliasChoices("maxcare_organization_id")
    )
    maxcare_api_url: str = "https://api.maxcare.ai/v4"
    maxcare_rate_limit_per_minute: int = Field(default=1000, ge=1)
    maxcare_timeout_seconds: float = Field(default=10.0, gt=0)
    maxcare_retry_window_seconds: float = Field(default=600.0, gt=0)
    maxcare_reconcile_hours: float = Field(default=24.0, gt=0)
    task_watch_seconds: float = Field(default=600.0, gt=0)
    # For benchmarks rather than production: the budget's window, and where HTTP mode listens.
    maxcare_rate_window_seconds: float = Field(default=60.0, gt=0)
    # Undocumented, for tests: how long a process's claim on a row lasts unless renewed.
    outbox_lease_seconds: float = Field(default=30.0, gt=0)
    bind_host: str = "0.0.0.0"
    port: int = Field(default=3000, ge=0, le=65535)
    bot_admins: str = ""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value().strip():
            return None  # unset: many-workspace mode, or a configuration error said later
        if not v.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return v

    @field_validator("slack_client_id")
    @classmethod
    def _empty_is_unset(cls, v: str | None) -> str | None:
        return v.strip() if v is not None and v.strip() else None

    @field_validator("token_encryption_key")
    @classmethod
    def _fernet_keys(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value().strip():
            return None
        from bot.workspaces.tokens import TokenCipher  # cryptography, only where keys are given

        TokenCipher.from_setting(v)  # ValueError (never quoting a key) when one is malformed
        return v

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value():
            return None
        if not v.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return v

    @field_validator("slack_signing_secret", "slack_client_secret")
    @classmethod
    def _empty_secret_is_unset(cls, v: SecretStr | None) -> SecretStr | None:
        return v if v is not None and v.get_secret_value() else None

    @field_validator("maxcare_api_key")
    @classmethod
    def _api_key_shape(cls, v: SecretStr) -> SecretStr:
        if not v.get_secret_value().startswith(("max_prd_ak_", "max_dev_ak_")):
            raise ValueError("must be a MaxCare API key starting with max_prd_ak_ or max_dev_ak_")
        return v

    @field_validator("single_organization_id")
    @classmethod
    def _org_blank_is_unset(cls, v: str | None) -> str | None:
        return v.strip() if v is not None and v.strip() else None

    @field_validator("slack_api_url", "maxcare_api_url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return v

    @field_validator("slack_api_url")
    @classmethod
    def _slack_url_slash(cls, v: str) -> str:
        # slack_sdk joins method names with urljoin, which drops a last segment without "/".
        return v if v.endswith("/") else v + "/"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, v: object) -> object:
        return v.upper() if isinstance(v, str) else v

    @property
    def admin_ids(self) -> frozenset[str]:
        """Slack user IDs named in BOT_ADMINS."""
        return frozenset(a.strip() for a in self.bot_admins.split(",") if a.strip())

    @property
    def socket_mode(self) -> bool:
        """Socket Mode when an app-level token is configured."""
        return self.slack_app_token is not None

    @property
    def mode(self) -> Mode:
        """Single (one workspace, one organization) or many (installed through OAuth)."""
        return "many" if self.slack_client_id is not None else "single"

    @property
    def maxcare_organization_id(self) -> str:
        """MAXCARE_ORGANIZATION_ID: the one organization of single-workspace mode.

        Many-workspace mode has none (each workspace has its own): reading it there is a bug,
        said as a ConfigError rather than a request sent for no organization.
        """
        if self.single_organization_id is None:
            raise ConfigError(
                "MAXCARE_ORGANIZATION_ID is not used in many-workspace mode: each workspace "
                "has its own organization (python -m bot workspaces set-org)"
            )
        return self.single_organization_id


class _ModeVariables(BaseSettings):
    """Which of the variables that choose the mode are set, read even when others are wrong."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    slack_bot_token: str | None = None
    maxcare_organization_id: str | None = None
    slack_client_id: str | None = None
    slack_client_secret: str | None = None
    token_encryption_key: str | None = None

    def present(self) -> set[str]:
        return {name.upper() for name, value in self if value is not None and value.strip()}


def mode_problems(present: set[str]) -> list[str]:
    """What is wrong with the choice of mode, given the names of the variables that are set."""
    single = [name for name in SINGLE_VARIABLES if name in present]
    many = [name for name in MANY_VARIABLES if name in present]
    if single and many:
        return [
            f"{' and '.join(single + many)} are set together: one workspace takes "
            "SLACK_BOT_TOKEN and MAXCARE_ORGANIZATION_ID, many workspaces take SLACK_CLIENT_ID "
            "and SLACK_CLIENT_SECRET; set one pair only"
        ]
    if many:
        problems = [
            f"{name} is required in many-workspace mode (with {many[0]})"
            for name in MANY_VARIABLES
            if name not in many
        ]
        if "TOKEN_ENCRYPTION_KEY" not in present:
            problems.append(
                "TOKEN_ENCRYPTION_KEY is required in many-workspace mode (installations' "
                f"tokens are stored encrypted): generate one with `{NEW_KEY_COMMAND}`"
            )
        return problems
    if single:
        return [f"{name} is required" for name in SINGLE_VARIABLES if name not in single]
    return [
        "SLACK_BOT_TOKEN and MAXCARE_ORGANIZATION_ID are required (one workspace), or "
        "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (many workspaces, installed through Slack)"
    ]


def _given(overrides: dict[str, object]) -> dict[str, str | None]:
    fields = _ModeVariables.model_fields
    return {
        k: (v.get_secret_value() if isinstance(v, SecretStr) else None if v is None else str(v))
        for k, v in overrides.items()
        if k in fields
    }


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning pydantic's report into one line naming the variable."""
    problems: list[str] = []
    try:
        settings: Settings | None = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        settings = None
        problems.append(describe_errors(exc))
    # Even when a value is malformed, say what the mode lacks: one line names every problem.
    named = " ".join(problems)
    present = _ModeVariables(**_given(overrides)).present()
    for problem in mode_problems(present):
        name, _, rest = problem.partition(" ")
        if not (rest.startswith("is required") and name in named):  # malformed, not missing
            problems.append(problem)
    if problems or settings is None:
        raise ConfigError("; ".join(problems))
    if not settings.socket_mode and settings.slack_signing_secret is None:
        raise ConfigError("SLACK_SIGNING_SECRET is required in HTTP mode (or set SLACK_APP_TOKEN)")
    return settings


def describe_errors(exc: ValidationError) -> str:
    """One line per problem, naming the environment variable, never echoing its value."""
    parts = []
    for err in exc.errors():
        name = str(err["loc"][0]).upper() if err["loc"] else "configuration"
        if err["type"] == "missing":
            parts.append(f"{name} is required")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            parts.append(f"{name} {msg}" if msg.startswith("must") else f"{name} is invalid: {msg}")
    return "; ".join(parts)
