"""Accounts over the store's database: users, API tokens and login sessions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from merchant_review.storage import StorageError, Store
from merchant_review.storage.engine import WRITE
from merchant_review.web.credentials import (
    MIN_PASSWORD_LENGTH,
    digest,
    hash_password,
    new_secret,
    new_token,
    verify_password,
)
from merchant_review.web.tables import ApiTokenRow, SessionRow, UserRow

PREFIX_LENGTH = 12  # of a token, kept to list and revoke it by


class Role(StrEnum):
    """What a user may do: an analyst overrides and starts reviews, a viewer only reads."""

    ANALYST = "analyst"
    VIEWER = "viewer"


class AccountError(StorageError):
    """An account change that cannot be made as asked (the message says why)."""


@dataclass(frozen=True)
class User:
    """Who is making a request."""

    name: str
    role: Role

    @property
    def is_analyst(self) -> bool:
        return self.role is Role.ANALYST


@dataclass(frozen=True)
class TokenInfo:
    """An API token as listed (never the token itself)."""

    prefix: str
    user_name: str
    label: str
    created_at: datetime
    revoked: bool


@dataclass(frozen=True)
class LoginSession:
    """A valid browser session: its user and the CSRF token its forms must carry."""

    user: User
    csrf_token: str


def _now() -> datetime:
    return datetime.now(UTC)


def _user(row: UserRow) -> User:
    return User(row.name, Role(row.role))


class Accounts:
    """Users, tokens and sessions in the database of `store`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._writes = sessionmaker(store.engine.execution_options(**WRITE))

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        with self._writes.begin() as session:
            yield session

    # -- users -----------------------------------------------------------------------------

    def add_user(self, name: str, role: Role, password: str | None) -> User:
        """Create a user; `password` None makes an API-only (service) account."""
        name = name.strip()
        if not name:
            raise AccountError("a user needs a name")
        if password is not None and len(password) < MIN_PASSWORD_LENGTH:
            raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
        with self._writing() as session:
            if session.get(UserRow, name) is not None:
                raise AccountError(f"user {name!r} already exists")
            hashed = hash_password(password) if password is not None else None
            session.add(
                UserRow(name=name, role=role.value, password_hash=hashed, created_at=_now())
            )
        return User(name, role)

    def get_user(self, name: str) -> User | None:
        with self.store.session() as session:
            row = session.get(UserRow, name)
            return _user(row) if row else None

    def list_users(self) -> list[User]:
        with self.store.session() as session:
            return [_user(row) for row in session.scalars(select(UserRow).order_by(UserRow.name))]

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if the password is right (same work done for unknown users)."""
        with self.store.session() as session:
            row = session.get(UserRow, name.strip())
            stored = row.password_hash if row else None
            found = _user(row) if row else None
        return found if verify_password(password, stored) else None

    # -- API tokens ------------------------------------------------------------------------

    def create_token(self, user_name: str, label: str = "") -> str:
        """A new token for the user: returned once, only its sha256 is stored."""
        token = new_token()
        with self._writing() as session:
            if session.get(UserRow, user_name) is None:
                raise AccountError(
                    f"no user {user_name!r}: add it with `merchant-review users add`"
                )
            session.add(
                ApiTokenRow(
                    token_sha256=digest(token),
                    user_name=user_name,
                    label=label,
                    prefix=token[:PREFIX_LENGTH],
                    created_at=_now(),
                    revoked_at=None,
                )
            )
        return token

    def token_user(self, token: str) -> User | None:
        """The user an unrevoked token belongs to."""
        with self.store.session() as session:
            row = session.get(ApiTokenRow, digest(token))
            if row is None or row.revoked_at is not None:
                return None
            user = session.get(UserRow, row.user_name)
            return _user(user) if user else None

    def list_tokens(self) -> list[TokenInfo]:
        with self.store.session() as session:
            rows = session.scalars(select(ApiTokenRow).order_by(ApiTokenRow.created_at))
            return [
                TokenInfo(r.prefix, r.user_name, r.label, r.created_at, r.revoked_at is not None)
                for r in rows
            ]

    def revoke_token(self, token_or_prefix: str) -> int:
        """Revoke a token, named by itself or by its listed prefix; how many were revoked."""
        given = token_or_prefix.strip()
        if len(given) > PREFIX_LENGTH:
            match = ApiTokenRow.token_sha256 == digest(given)
        elif len(given) == PREFIX_LENGTH:
            match = ApiTokenRow.prefix == given
        else:
            raise AccountError(f"give the token or its {PREFIX_LENGTH}-character prefix")
        with self._writing() as session:
            query = select(ApiTokenRow).where(match, ApiTokenRow.revoked_at.is_(None))
            rows = list(session.scalars(query))
            for row in rows:
                row.revoked_at = _now()
        return len(rows)

    # -- browser sessions ------------------------------------------------------------------

    def start_session(self, user: User, lifetime: timedelta) -> str:
        """Open a session for `user`; returns the id for the cookie (stored hashed)."""
        session_id = new_secret()
        now = _now()
        with self._writing() as session:
            session.execute(delete(SessionRow).where(SessionRow.expires_at < now))
            session.add(
                SessionRow(
                    id_sha256=digest(session_id),
                    user_name=user.name,
                    csrf_token=new_secret(),
                    created_at=now,
                    expires_at=now + lifetime,
                )
            )
        return session_id

    def session(self, session_id: str) -> LoginSession | None:
        """The live session with this id (None: unknown or expired)."""
        with self.store.session() as session:
            row = session.get(SessionRow, digest(session_id))
            if row is None or row.expires_at <= _now():
                return None
            user = session.get(UserRow, row.user_name)
            return LoginSession(_user(user), row.csrf_token) if user else None

    def end_session(self, session_id: str) -> None:
        with self._writing() as session:
            session.execute(delete(SessionRow).where(SessionRow.id_sha256 == digest(session_id)))
