"""Runtime settings, read from ``LADDER_*`` environment variables.

Built by :func:`get_settings` on demand, never at import time, so tests and subprocesses can
change the environment before anything reads it.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting the harness reads from the environment (prefix ``LADDER_``)."""

    model_config = SettingsConfigDict(env_prefix="LADDER_", extra="ignore")

    data_dir: Path = Field(
        default=Path(".ladder"),
        description="Root of all state the harness writes: caches, tiny models, artifacts, the SQLite db.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the results store; default: SQLite file under data_dir.",
    )
    database_password_file: Path | None = Field(
        default=None,
        description="File holding the database password (a Docker/compose secret); put into database_url, so the "
                    "password never sits in the environment.",
    )
    artifacts_dir: Path | None = Field(
        default=None,
        description="Content-addressed store of shared work (frozen-student candidates, baselines, verdicts); "
                    "default: data_dir/artifacts. Point every worker at one shared folder to compute them once.",
    )
    artifacts_readonly_dir: Path | None = Field(
        default=None,
        description="A read-only artifact store consulted before artifacts_dir: an artifact found there is used, "
                    "a missing one is made and written to artifacts_dir. The docker executor mounts the shared store "
                    "here, so a submission's container reuses shared work but cannot alter what others read.",
    )
    hf_cache_dir: Path | None = Field(
        default=None,
        description="Where hub models and datasets are cached; default: the Hugging Face default.",
    )
    web_max_request_bytes: int = Field(
        default=256 * 1024, ge=1024,
        description="Largest request body the leaderboard accepts (413 above it); manifests are at most 64 KiB.",
    )
    web_page_size: int = Field(default=100, ge=1, le=1000, description="Leaderboard rows per page.")
    web_cache_seconds: float = Field(
        default=2.0, ge=0,
        description="How long the leaderboard trusts its list of protocols (the version of its cached rankings): "
                    "a new result appears on the pages within this time.",
    )
    endpoint_keys: dict[str, list[str]] = Field(
        default_factory=dict,
        description="API-key variables a manifest's endpoint.api_key_env may name, each bound to the hosts its key "
                    "may be sent to (exact names or '*.example.com'), as JSON: "
                    '{"OPENAI_API_KEY": ["api.openai.com"]}. Any other variable is refused; default: none.',
    )
    endpoint_hosts: list[str] = Field(
        default_factory=list,
        description="If set (JSON list), the only hosts an endpoint verifier may be on (exact names or "
                    "'*.example.com'); default: any host on a public address.",
    )
    allow_local_endpoints: bool = Field(
        default=False,
        description="Let endpoints be on loopback, private and link-local addresses (a vLLM server beside the "
                    "worker). Applies to every job the process runs, queued ones included: leave off wherever "
                    "others can submit.",
    )
    models_root: Path | None = Field(
        default=None,
        description="The only folder a submitted manifest's model.path may point into (a local verifier "
                    "model); default: none, so submissions name hub ids.",
    )
    offline: bool = Field(
        default=False,
        description="Refuse any hub download (sets HF_HUB_OFFLINE for the libraries we call).",
    )

    @property
    def tiny_models_dir(self) -> Path:
        return self.data_dir / "tiny-models"

    @property
    def datasets_dir(self) -> Path:
        return self.data_dir / "datasets"

    @property
    def sqlite_url(self) -> str:
        return f"sqlite:///{(self.data_dir / 'ladder.db').resolve()}"

    @property
    def database(self) -> str:
        """The results store's URL: ``database_url`` (with the password file's password) when set, else the
        embedded SQLite file."""
        if not self.database_url:
            return self.sqlite_url
        if self.database_password_file is None:
            return self.database_url
        from sqlalchemy.engine import make_url

        password = self.database_password_file.read_text().strip()
        return make_url(self.database_url).set(password=password).render_as_string(hide_password=False)

    @property
    def artifacts(self) -> Path:
        """Where shared artifacts live: ``artifacts_dir`` when set, else ``data_dir/artifacts``."""
        return self.artifacts_dir or self.data_dir / "artifacts"

    def cached(self, path: Path) -> Path:
        """Where to look for the artifact ``path`` (a path under :attr:`artifacts`): its copy in
        ``artifacts_readonly_dir`` when that store has one, else ``path`` itself (read there, or made and written
        there on a miss)."""
        if self.artifacts_readonly_dir is not None:
            try:
                shared = self.artifacts_readonly_dir / path.relative_to(self.artifacts)
            except ValueError:
                return path
            if os.access(shared, os.R_OK):  # one this user cannot read is made again, in `artifacts`
                return shared
        return path


def get_settings() -> Settings:
    """Read the settings from the current environment (cheap; call where needed)."""
    return Settings()
