"""The web app's tables: user accounts, API tokens and login sessions.

They live on the storage package's metadata (`Base`), so the schema check and Alembic
see them; the migration that creates them is merchant_review/migrations/versions/
r0002_web_accounts.py. Unlike the audit tables they are mutable: accounts change, tokens
are revoked, sessions expire. Secrets are never stored: passwords as scrypt hashes, API
tokens and session ids as sha256 digests of high-entropy random values.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from merchant_review.storage.schema import Base, Timestamp


class UserRow(Base):
    """A person (or a service) who may use the web app; `role` is analyst or viewer."""

    __tablename__ = "web_users"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    role: Mapped[str] = mapped_column(String(20))
    # None: no password login (a service account that uses API tokens only).
    password_hash: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp())


class ApiTokenRow(Base):
    """An API token of a user: only its sha256 is kept."""

    __tablename__ = "web_api_tokens"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(ForeignKey("web_users.name"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))  # shown in lists, to tell tokens apart
    created_at: Mapped[datetime] = mapped_column(Timestamp())
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp())


class SessionRow(Base):
    """A browser login: the cookie holds a random id, the table its sha256."""

    __tablename__ = "web_sessions"

    id_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(ForeignKey("web_users.name"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(Timestamp())
    expires_at: Mapped[datetime] = mapped_column(Timestamp(), index=True)
