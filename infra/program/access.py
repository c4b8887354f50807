"""Who may sign in to the admin site: a Cognito user pool, one group per role, the admins."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.core import naming
from infra.core.email_settings import normalized_email
from infra.core.spec import ROLES, AdminSpec
from infra.program.options import retained, stateful

PASSWORD_MIN_LENGTH = 14
TEMPORARY_PASSWORD_DAYS = 3
"""An unused invitation expires quickly; an administrator can resend it."""
MFA_BY_STAGE: dict[naming.Stage, str] = {"preview": "OPTIONAL", "production": "ON"}
"""Preview accounts are for practice and training; production guards real payments."""


def _email_configuration(
    email: EmailSending | None,
) -> aws.cognito.UserPoolEmailConfigurationArgs | None:
    if email is None:
        return None
    return aws.cognito.UserPoolEmailConfigurationArgs(
        email_sending_account="DEVELOPER",
        source_arn=email.source_arn,
        from_email_address=email.from_address,
        configuration_set=email.configuration_set,
    )


def _reset_template(args: AccessArgs) -> aws.cognito.UserPoolVerificationMessageTemplateArgs:
    """The password-reset email: the tenant's subject (email/subjects.json), Cognito's code."""
    return aws.cognito.UserPoolVerificationMessageTemplateArgs(
        default_email_option="CONFIRM_WITH_CODE",
        email_subject=args.reset_subject,
        email_message=(
            f"Your {args.display_name} admin verification code is {{####}}. "
            f"It expires soon; if you did not ask for it, contact {args.support_email}."
        ),
    )


@dataclass(frozen=True)
class EmailSending:
    """How the user pool sends email: through a *verified* SES identity.

    Cognito refuses an identity that is not verified yet (CreateUserPool: "Email
    address is not verified"), and a stack's own identity verifies only after its
    DKIM records are published, which the first update's outputs deliver: so a pool
    sends through the platform's verified identity (``emailIdentityArn``), except a
    live production on the client's own domain, whose identity promote has found
    verified (``email_settings.pool_sends_from_own_identity``).
    """

    source_arn: pulumi.Input[str]
    from_address: str
    configuration_set: pulumi.Input[str]


@dataclass(frozen=True)
class AccessArgs:
    pool_name: str
    display_name: str
    """How invitations name the client."""
    admin_host: str
    admins: Sequence[AdminSpec]
    mfa_configuration: str
    """``OFF``, ``ON`` or ``OPTIONAL`` (``MFA_BY_STAGE``)."""
    durable: bool
    """Production: deletion protection on, protected and retained (``options.stateful``)."""
    tags: Mapping[str, str]
    reset_subject: str = "Reset your password"
    """Subject of the password-reset email (the tenant's ``email/subjects.json``)."""
    support_email: str = ""
    """Where the reset email tells an administrator to write if they did not ask for it."""
    email: EmailSending | None = None
    """None: Cognito's own sender (limited to a few emails a day; tests only)."""


class Access(pulumi.ComponentResource):
    """The admin site's user pool. Accounts are created by administrators only (no
    self sign-up), sign in with their email address and get an emailed invitation."""

    user_pool_id: pulumi.Output[str]
    user_pool_arn: pulumi.Output[str]
    user_pool_name: str
    group_names: list[str]
    admin_usernames: list[str]

    def __init__(
        self, name: str, args: AccessArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenants:index:Access", name, None, opts)
        # Production's groups, accounts and memberships are retained with the pool: a
        # destroyed stack must not take every administrator's sign-in and MFA with it.
        child = retained(self, args.durable)
        pool_name = args.pool_name

        pool = aws.cognito.UserPool(
            f"{name}-user-pool",
            name=pool_name,
            username_attributes=["email"],
            username_configuration=aws.cognito.UserPoolUsernameConfigurationArgs(
                case_sensitive=False
            ),
            auto_verified_attributes=["email"],
            admin_create_user_config=aws.cognito.UserPoolAdminCreateUserConfigArgs(
                allow_admin_create_user_only=True,
                invite_message_template=aws.cognito.UserPoolAdminCreateUserConfigInviteMessageTemplateArgs(
                    email_subject=f"Your {args.display_name} admin account",
                    email_message=(
                        f"You have an account on the {args.display_name} admin site, "
                        f"https://{args.admin_host}. Sign in as {{username}} with the "
                        f"temporary password {{####}} within {TEMPORARY_PASSWORD_DAYS} days."
                    ),
                ),
            ),
            password_policy=aws.cognito.UserPoolPasswordPolicyArgs(
                minimum_length=PASSWORD_MIN_LENGTH,
                require_lowercase=True,
                require_uppercase=True,
                require_numbers=True,
                require_symbols=True,
                temporary_password_validity_days=TEMPORARY_PASSWORD_DAYS,
            ),
            mfa_configuration=args.mfa_configuration,
            software_token_mfa_configuration=aws.cognito.UserPoolSoftwareTokenMfaConfigurationArgs(
                enabled=True
            ),
            account_recovery_setting=aws.cognito.UserPoolAccountRecoverySettingArgs(
                recovery_mechanisms=[
                    aws.cognito.UserPoolAccountRecoverySettingRecoveryMechanismArgs(
                        name="verified_email", priority=1
                    )
                ]
            ),
            email_configuration=_email_configuration(args.email),
            verification_message_template=_reset_template(args),
            deletion_protection="ACTIVE" if args.durable else "INACTIVE",
            tags=dict(args.tags),
            # A replaced pool would invite every administrator again and lose their MFA.
            opts=stateful(self, args.durable),
        )

        groups: dict[str, aws.cognito.UserGroup] = {}
        # Lower precedence wins when a token is built for a user in several groups;
        # ROLES is ordered from most to least privileged.
        for precedence, (role, description) in enumerate(ROLES.items()):
            groups[role] = aws.cognito.UserGroup(
                f"{name}-group-{role}",
                user_pool_id=pool.id,
                name=role,
                description=description,
                precedence=precedence,
                opts=child,
            )

        for admin in args.admins:
            # One normalized address for the user name and the email attribute: the
            # invitation goes where the sign-in name says (addresses are compared
            # without case everywhere else too).
            address = normalized_email(admin.email)
            # Named by email, not list position, so reordering admins changes nothing.
            user = aws.cognito.User(
                f"{name}-user-{address}",
                user_pool_id=pool.id,
                username=address,
                attributes={"email": address, "email_verified": "true", "name": admin.name},
                desired_delivery_mediums=["EMAIL"],
                opts=child,
            )
            aws.cognito.UserInGroup(
                f"{name}-user-{address}-{admin.role}",
                user_pool_id=pool.id,
                group_name=groups[admin.role].name,
                username=user.username,
                opts=child,
            )

        self.user_pool_id = pool.id
        self.user_pool_arn = pool.arn
        self.user_pool_name = pool_name
        self.group_names = list(ROLES)
        self.admin_usernames = [normalized_email(admin.email) for admin in args.admins]
        self.register_outputs(
            {
                "user_pool_id": self.user_pool_id,
                "user_pool_arn": self.user_pool_arn,
                "user_pool_name": self.user_pool_name,
                "group_names": self.group_names,
                "admin_usernames": self.admin_usernames,
            }
        )
