"""Request and response bodies of the identity endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class RegisterIn(Body):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    first_name: str = Field(default="", max_length=100)
    last_name: str = Field(default="", max_length=100)
    marketing_consent: bool = False


class RegisterOut(BaseModel):
    email: str
    verification_required: bool = True
    detail: str = "Check your inbox to verify your email address."


class LoginIn(Body):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    otp: str | None = Field(default=None, max_length=32, description="TOTP code or a recovery code")


class RefreshIn(Body):
    refresh_token: str = Field(min_length=1, max_length=200)


class TokenPairOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int


class TokenIn(Body):
    token: str = Field(min_length=1, max_length=200)


class EmailIn(Body):
    email: str = Field(min_length=1, max_length=320)


class PasswordResetConfirmIn(Body):
    token: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)


class PasswordChangeIn(Body):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class AcceptedOut(BaseModel):
    detail: str


class ProfileOut(BaseModel):
    id: str
    email: str
    email_verified: bool
    first_name: str
    last_name: str
    phone: str | None
    marketing_consent: bool
    marketing_consent_at: datetime | None
    locale: str | None
    currency: str | None
    mfa_enabled: bool
    created_at: datetime


class ProfileUpdateIn(Body):
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=40)
    marketing_consent: bool | None = None
    locale: str | None = Field(default=None, max_length=20)
    currency: str | None = Field(default=None, min_length=3, max_length=3)


class SessionOut(BaseModel):
    id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ip: str | None
    user_agent: str | None
    current: bool


class SessionList(BaseModel):
    items: list[SessionOut]


class StaffProfileOut(BaseModel):
    id: str
    email: str
    first_name: str
    last_name: str
    is_superuser: bool
    permissions: list[str]
    mfa_enabled: bool
