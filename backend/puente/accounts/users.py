"""Creating users and their KYC profiles (validated, sensitive fields encrypted)."""

from __future__ import annotations

from datetime import date

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from puente.accounts.models import BorrowerProfile, User
from puente.audit.service import record_audit
from puente.enums import Role
from puente.identifiers import (
    validate_curp,
    validate_phone_mx,
    validate_postal_code,
    validate_rfc,
)
from puente.runtime import Runtime
from puente.security.crypto import blind_index
from puente.security.passwords import check_password_rules, hash_password_async

__all__ = ["UserError", "create_borrower_profile", "create_user"]

CURP_CONTEXT = "borrower_profiles.curp"
RFC_CONTEXT = "borrower_profiles.rfc"


class UserError(ValueError):
    """Input that cannot become a user; ``message`` is Spanish and safe to show."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


async def create_user(
    runtime: Runtime,
    *,
    institution_id: int,
    email: str,
    password: str,
    full_name: str,
    role: Role,
    guardian_id: int | None = None,
    actor_id: int | None = None,
    conn: BaseDBAsyncClient | None = None,
) -> User:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise UserError("email", "El correo no es válido.")
    problem = check_password_rules(password)
    if problem:
        raise UserError("password", problem)
    if await User.filter(email=email).using_db(conn).exists():
        raise UserError("email", "Ya existe una cuenta con ese correo.")
    user = await User.create(
        institution_id=institution_id,
        email=email,
        full_name=full_name.strip(),
        role=role,
        password_hash=await hash_password_async(password, runtime.password_policy),
        guardian_id=guardian_id,
        using_db=conn,
    )
    await record_audit(
        "user.created",
        actor_id=actor_id,
        institution_id=institution_id,
        subject_type="user",
        subject_id=user.id,
        data={"role": role.value},
        conn=conn,
    )
    return user


async def create_borrower_profile(
    runtime: Runtime,
    user: User,
    *,
    curp: str | None = None,
    rfc: str | None = None,
    phone: str | None = None,
    birth_date: date | None = None,
    street: str | None = None,
    exterior_number: str | None = None,
    colonia: str | None = None,
    postal_code: str | None = None,
    municipio: str | None = None,
    state: str | None = None,
) -> BorrowerProfile:
    """Validate KYC fields (raises ``KycError``) and store CURP/RFC encrypted + indexed."""
    cipher = runtime.cipher
    fields: dict[str, object] = {}
    if curp:
        value = validate_curp(curp)
        fields["curp_enc"] = cipher.encrypt(value, context=CURP_CONTEXT)
        fields["curp_index"] = blind_index(value, context=CURP_CONTEXT, index_key=runtime.index_key)
    if rfc:
        value = validate_rfc(rfc).rfc
        fields["rfc_enc"] = cipher.encrypt(value, context=RFC_CONTEXT)
        fields["rfc_index"] = blind_index(value, context=RFC_CONTEXT, index_key=runtime.index_key)
    async with in_transaction() as tx:
        profile = await BorrowerProfile.create(
            user_id=user.id,
            phone=validate_phone_mx(phone) if phone else None,
            postal_code=validate_postal_code(postal_code) if postal_code else None,
            birth_date=birth_date,
            street=street,
            exterior_number=exterior_number,
            colonia=colonia,
            municipio=municipio,
            state=state,
            using_db=tx,
            **fields,
        )
        await record_audit(
            "kyc.profile_created",
            institution_id=user.institution_id,
            subject_type="user",
            subject_id=user.id,
            conn=tx,
        )
    return profile
