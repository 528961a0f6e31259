"""Request and response bodies of the identity endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from mercato.kit.clock import ClientDatetime


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


# --- address book ----------------------------------------------------------------------------------
# Required-looking fields default to "": the per-country rules decide what is required (a Hong Kong
# address has no postcode, a Singapore one no city) and report it as 422 `address.invalid`.


class AddressIn(Body):
    label: str | None = Field(default=None, max_length=50, description="The customer's name for it, e.g. Home")
    first_name: str = Field(default="", max_length=100)
    last_name: str = Field(default="", max_length=100)
    company: str | None = Field(default=None, max_length=150)
    line1: str = Field(default="", max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(default="", max_length=100)
    region: str | None = Field(default=None, max_length=100, description="State/province; stored as its code")
    postal_code: str = Field(default="", max_length=20)
    country_code: str = Field(default="", max_length=64, description="ISO 3166-1 alpha-2, e.g. DE")
    phone: str | None = Field(default=None, max_length=40)
    is_default_shipping: bool = False
    is_default_billing: bool = False


class AddressUpdateIn(Body):
    """Only the fields sent change; the resulting address is validated as a whole."""

    label: str | None = Field(default=None, max_length=50)
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    company: str | None = Field(default=None, max_length=150)
    line1: str | None = Field(default=None, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    postal_code: str | None = Field(default=None, max_length=20)
    country_code: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, max_length=40)
    is_default_shipping: bool | None = None
    is_default_billing: bool | None = None


class AddressOut(BaseModel):
    id: str
    label: str | None
    first_name: str
    last_name: str
    company: str | None
    line1: str
    line2: str | None
    city: str
    region: str | None
    postal_code: str
    country_code: str
    phone: str | None
    is_default_shipping: bool
    is_default_billing: bool
    created_at: datetime
    updated_at: datetime


class AddressList(BaseModel):
    items: list[AddressOut]
    next_cursor: str | None


# --- wishlists -------------------------------------------------------------------------------------


class WishlistIn(Body):
    name: str = Field(min_length=1, max_length=100)


class WishlistItemIn(Body):
    # Parsed by the service, which answers 422 `validation.invalid` on field variant_id.
    variant_id: str = Field(min_length=1, max_length=64, json_schema_extra={"format": "uuid"},
                            description="A catalogue variant id (UUID)")
    note: str | None = Field(default=None, max_length=1000)


class WishlistItemOut(BaseModel):
    variant_id: str
    note: str | None
    added_at: datetime


class WishlistSummaryOut(BaseModel):
    id: str
    name: str
    item_count: int
    created_at: datetime
    updated_at: datetime


class WishlistOut(WishlistSummaryOut):
    items: list[WishlistItemOut]


class WishlistList(BaseModel):
    items: list[WishlistSummaryOut]
    next_cursor: str | None


# --- privacy ---------------------------------------------------------------------------------------


class ErasureIn(Body):
    password: str = Field(min_length=1, max_length=1024, description="The current password, asked again")
    otp: str | None = Field(default=None, max_length=32,
                            description="With two-factor authentication on: a TOTP code or a recovery code")


class ExportProfile(BaseModel):
    id: str
    email: str
    email_verified_at: datetime | None
    first_name: str
    last_name: str
    phone: str | None
    mfa_enabled: bool
    mfa_enabled_at: datetime | None
    password_changed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ExportConsents(BaseModel):
    marketing_consent: bool
    marketing_consent_at: datetime | None


class ExportPreferences(BaseModel):
    locale: str | None
    currency: str | None


class ExportWishlist(BaseModel):
    id: str
    name: str
    created_at: datetime
    updated_at: datetime
    items: list[WishlistItemOut]


class ExportSession(BaseModel):
    id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoke_reason: str | None
    ip: str | None
    user_agent: str | None


class ExportAuditEntry(BaseModel):
    occurred_at: datetime
    event: str
    actor_kind: str | None
    actor_id: str | None
    ip: str | None
    user_agent: str | None
    details: dict[str, object]


class PersonalDataExport(BaseModel):
    """Everything Mercato holds about the signed-in customer (GDPR Art. 15 and 20)."""

    format_version: int = 1
    exported_at: datetime
    profile: ExportProfile
    consents: ExportConsents
    preferences: ExportPreferences
    addresses: list[AddressOut]
    wishlists: list[ExportWishlist]
    sessions: list[ExportSession]
    audit_entries: list[ExportAuditEntry] = Field(
        description="Security log entries about the customer (kept 365 days, also after erasure)")
    orders: list[dict[str, object]] = Field(
        default_factory=list, description="Filled by the orders module once it exists; empty until then")


# --- two-factor authentication ---------------------------------------------------------------------


class MfaEnrolmentOut(BaseModel):
    secret: str = Field(description="Base32 TOTP secret, for typing into an authenticator app")
    provisioning_uri: str = Field(description="otpauth:// URI, for a QR code")


class MfaCodeIn(Body):
    code: str = Field(min_length=1, max_length=32, description="The 6-digit code the authenticator app shows")


class MfaReauthIn(Body):
    password: str = Field(min_length=1, max_length=1024)
    code: str = Field(min_length=1, max_length=32, description="A current TOTP code or an unused recovery code")


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(description="Single-use codes; shown this once, store them safely")


# --- staff, roles, permissions ---------------------------------------------------------------------


class RoleRef(BaseModel):
    id: str
    name: str


class StaffOut(BaseModel):
    id: str
    email: str
    first_name: str
    last_name: str
    is_active: bool
    is_superuser: bool
    roles: list[RoleRef]
    permissions: list[str] = Field(description="Granted directly, on top of the roles'")
    effective_permissions: list[str] = Field(description="Everything the roles and direct grants allow")
    mfa_enabled: bool
    created_at: datetime
    updated_at: datetime


class StaffList(BaseModel):
    items: list[StaffOut]
    next_cursor: str | None


class StaffCreateIn(Body):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    first_name: str = Field(default="", max_length=100)
    last_name: str = Field(default="", max_length=100)
    roles: list[str] = Field(default_factory=list, max_length=50, description="Role ids or names")
    permissions: list[str] = Field(default_factory=list, max_length=100, description="Direct grants")


class StaffUpdateIn(Body):
    """Only the fields sent change. Changing roles or permissions, or deactivating, signs the user out."""

    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    is_active: bool | None = None
    roles: list[str] | None = Field(default=None, max_length=50, description="Role ids or names (replaces all)")
    permissions: list[str] | None = Field(default=None, max_length=100, description="Direct grants (replaces all)")


class RoleOut(BaseModel):
    id: str
    name: str
    description: str
    permissions: list[str]
    is_builtin: bool
    created_at: datetime
    updated_at: datetime


class RoleList(BaseModel):
    items: list[RoleOut]
    next_cursor: str | None


class RoleCreateIn(Body):
    name: str = Field(min_length=2, max_length=64, description="Lower-case letters, digits, underscores")
    description: str = Field(default="", max_length=300)
    permissions: list[str] = Field(default_factory=list, max_length=100)


class RoleUpdateIn(Body):
    """Only the fields sent change; built-in roles keep their names. Changing the permissions signs
    every holder out."""

    name: str | None = Field(default=None, min_length=2, max_length=64)
    description: str | None = Field(default=None, max_length=300)
    permissions: list[str] | None = Field(default=None, max_length=100)


class PermissionOut(BaseModel):
    name: str
    description: str


class PermissionList(BaseModel):
    items: list[PermissionOut]


# --- API keys --------------------------------------------------------------------------------------


class ApiKeyCreateIn(Body):
    name: str = Field(min_length=1, max_length=100)
    permissions: list[str] = Field(min_length=1, max_length=100)
    expires_at: ClientDatetime | None = Field(default=None, description="RFC 3339 with offset; omit for no expiry")


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="The key's public start (`mk_xxxxxxxx`), to tell keys apart")
    permissions: list[str]
    created_by: str | None
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreatedOut(ApiKeyOut):
    key: str = Field(description="The whole key; shown this once and never again")


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]
    next_cursor: str | None


# --- audit log -------------------------------------------------------------------------------------


class AuditParty(BaseModel):
    kind: str | None
    id: str | None


class AuditEntryOut(BaseModel):
    id: str
    occurred_at: datetime
    event: str
    actor: AuditParty | None
    subject: AuditParty | None
    ip: str | None
    user_agent: str | None
    request_id: str | None
    details: dict[str, object]


class AuditEntryList(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None
