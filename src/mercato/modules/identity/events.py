"""Events identity emits; the notifications step turns the mail-worthy ones into emails."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class CustomerRegistered:
    name: ClassVar[str] = "customer.registered"
    customer_id: str
    email: str
    verification_token: str


@dataclass(frozen=True)
class RegistrationAttemptedForExistingEmail:
    """Someone registered with an email that has an account: mail the owner a notice, say nothing."""

    name: ClassVar[str] = "customer.registration_attempted"
    customer_id: str
    email: str


@dataclass(frozen=True)
class EmailVerificationRequested:
    name: ClassVar[str] = "customer.email_verification_requested"
    customer_id: str
    email: str
    verification_token: str


@dataclass(frozen=True)
class PasswordResetRequested:
    name: ClassVar[str] = "customer.password_reset_requested"
    customer_id: str
    email: str
    reset_token: str


@dataclass(frozen=True)
class PasswordChanged:
    name: ClassVar[str] = "customer.password_changed"
    customer_id: str
    email: str


@dataclass(frozen=True)
class CustomerErased:
    name: ClassVar[str] = "customer.erased"
    customer_id: str
