"""Users, their borrower profiles (KYC) and their sessions."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from puente.enums import Role

__all__ = ["BorrowerProfile", "LoginThrottle", "RefreshToken", "User"]


class User(Model):
    """A person who logs in: borrower, guardian, student, staff or admin."""

    id = fields.IntField(primary_key=True)
    # Foreign key columns as Tortoise sets them, declared for type checkers.
    institution_id: int
    institution = fields.ForeignKeyField(
        "models.Institution", related_name="users", on_delete=fields.RESTRICT
    )
    email = fields.CharField(max_length=254, unique=True)
    full_name = fields.CharField(max_length=200)
    role = fields.CharEnumField(Role, max_length=16)
    password_hash = fields.CharField(max_length=255)
    is_active = fields.BooleanField(default=True)
    mfa_secret_enc = fields.TextField(null=True)  # TOTP secret, encrypted
    mfa_enabled = fields.BooleanField(default=False)
    mfa_last_step = fields.BigIntField(null=True)  # last accepted TOTP step (replay guard)
    locked_until = fields.DatetimeField(null=True)
    # Part of every token: bumping it (password change, MFA enrolment) ends every session.
    session_version = fields.IntField(default=0)
    last_login_at = fields.DatetimeField(null=True)
    guardian = fields.ForeignKeyField(
        "models.User", related_name="wards", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "users"


class LoginThrottle(Model):
    """Login attempts counted per account or per client address, shared by every process."""

    key = fields.CharField(max_length=80, primary_key=True)
    attempts = fields.IntField(default=0)
    window_start = fields.BigIntField(default=0)  # epoch seconds
    blocked_until = fields.BigIntField(default=0)  # epoch seconds, 0 when not blocked

    class Meta:
        table = "login_throttles"


class RefreshToken(Model):
    """A refresh token we issued, rotated on use, its family revoked on reuse."""

    jti = fields.CharField(max_length=64, primary_key=True)
    user = fields.ForeignKeyField("models.User", related_name="refresh_tokens")
    family_id = fields.CharField(max_length=64, db_index=True)
    issued_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "refresh_tokens"


class BorrowerProfile(Model):
    """KYC data of a borrower or payer. CURP and RFC are encrypted, *_index allow lookup."""

    id = fields.IntField(primary_key=True)
    user = fields.OneToOneField("models.User", related_name="profile")
    curp_enc = fields.TextField(null=True)
    curp_index = fields.CharField(max_length=64, null=True, db_index=True)
    rfc_enc = fields.TextField(null=True)
    rfc_index = fields.CharField(max_length=64, null=True, db_index=True)
    birth_date = fields.DateField(null=True)
    phone = fields.CharField(max_length=16, null=True)
    street = fields.CharField(max_length=200, null=True)
    exterior_number = fields.CharField(max_length=20, null=True)
    interior_number = fields.CharField(max_length=20, null=True)
    colonia = fields.CharField(max_length=120, null=True)
    postal_code = fields.CharField(max_length=5, null=True)
    municipio = fields.CharField(max_length=120, null=True)
    state = fields.CharField(max_length=60, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "borrower_profiles"


class PasswordResetToken(Model):
    """A password-reset link: only its SHA-256 is stored, used once, then dead."""

    id = fields.IntField(primary_key=True)
    user_id: int
    user = fields.ForeignKeyField("models.User", related_name="password_resets")
    token_hash = fields.CharField(max_length=64, unique=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "password_reset_tokens"
