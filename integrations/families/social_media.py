"""Social media: Facebook Pages and Instagram professional accounts (Meta Graph API) and X.

Each integration lists the accounts it publishes to; an account's `access_token_ref` holds its
own token (a Facebook page token, for instance). Validation calls the provider as the first
account: Facebook `GET /me` with the page token (and checks the token belongs to that page),
Instagram `GET /<ig-user-id>`, X `GET /2/users/me`. Where an account has no token of its own,
the OAuth-connected user's token is used.
"""

from __future__ import annotations

from rest_framework import serializers

from adapters.providers import facebook, instagram, x
from config.api import StrictSerializer
from integrations.errors import ApplicationError
from integrations.families.registry import FamilySpec, ProviderBinding, register
from integrations.families.serializers import BASE_INPUT_FIELDS, IntegrationInputSerializer
from integrations.models import SocialMediaIntegration
from integrations.secrets.fields import SecretRefField

MAX_ACCOUNTS = 50
OAUTH_FIELDS = ("oauth_client_id", "oauth_client_secret_ref", "oauth_refresh_token_ref")


class SocialAccountInput(StrictSerializer):
    # Page, IG user and X user ids are all numeric; a handle or page name is refused, not guessed at.
    account_id = serializers.RegexField(
        r"^[0-9]{1,30}$",
        error_messages={"invalid": "must be the account's numeric id (not its handle or name)"},
    )
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    access_token_ref = SecretRefField(required=False, allow_blank=True)


class SocialMediaInput(IntegrationInputSerializer):
    allowed_capabilities = ("publish", "analytics", "moderation")

    accounts = serializers.ListField(
        child=SocialAccountInput(), max_length=MAX_ACCOUNTS, required=False
    )
    auto_publish_event_types = serializers.ListField(
        child=serializers.CharField(max_length=100),
        max_length=50,
        required=False,
        help_text="Hub events published automatically to the accounts (needs the publish capability).",
    )

    class Meta:
        model = SocialMediaIntegration
        fields = BASE_INPUT_FIELDS + [*OAUTH_FIELDS, "accounts", "auto_publish_event_types"]

    def validate_accounts(self, value: list[dict]) -> list[dict]:
        seen: set[str] = set()
        duplicates = []
        for account in value:
            if account["account_id"] in seen:
                duplicates.append(account["account_id"])
            seen.add(account["account_id"])
        if duplicates:
            raise serializers.ValidationError(
                f"account_id listed more than once: {', '.join(sorted(set(duplicates)))}"
            )
        return [
            {
                "account_id": account["account_id"],
                "name": account.get("name", ""),
                "access_token_ref": account.get("access_token_ref", ""),
            }
            for account in value
        ]

    def validate_auto_publish_event_types(self, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    def validate(self, attrs):
        def current(name: str, default):
            return attrs.get(name, getattr(self.instance, name, default))

        if current("auto_publish_event_types", []) and not current("capabilities", {}).get(
            "publish"
        ):
            raise serializers.ValidationError(
                {
                    "auto_publish_event_types": [
                        "auto-publishing needs the publish capability: set capabilities.publish to true"
                    ]
                }
            )
        return attrs


def _first_account(integration: SocialMediaIntegration) -> dict | None:
    return integration.accounts[0] if integration.accounts else None


def _account_token(integration: SocialMediaIntegration, account: dict | None, resolve) -> str:
    """The account's own token when it has one, else the OAuth-connected user's token."""
    if account and account.get("access_token_ref"):
        return resolve(account["access_token_ref"])
    if integration.oauth_client_id:
        # Imported at call time: the OAuth token service sits above the families it serves.
        from integrations.oauth.tokens import oauth_access_token

        return oauth_access_token(integration=integration)
    raise ApplicationError(
        "missing credential: give the first account an access_token_ref, or connect the "
        f"{integration.provider} account with OAuth (oauth_client_id)",
        code="incomplete",
    )


def _app_secret(integration: SocialMediaIntegration, resolve) -> str:
    return (
        resolve(integration.oauth_client_secret_ref) if integration.oauth_client_secret_ref else ""
    )


def _facebook_config(integration: SocialMediaIntegration, resolve) -> facebook.Config:
    account = _first_account(integration)
    own_token = bool(account and account.get("access_token_ref"))
    return facebook.Config(
        access_token=_account_token(integration, account, resolve),
        # A user token answers /me as the user, so only a page's own token is checked.
        account_id=account["account_id"] if own_token else "",
        app_secret=_app_secret(integration, resolve),
    )


def _instagram_config(integration: SocialMediaIntegration, resolve) -> instagram.Config:
    account = _first_account(integration)
    if account is None:
        raise ApplicationError(
            "add the Instagram account to accounts (its IG user id) before validating",
            code="incomplete",
        )
    return instagram.Config(
        access_token=_account_token(integration, account, resolve),
        account_id=account["account_id"],
        app_secret=_app_secret(integration, resolve),
    )


def _x_config(integration: SocialMediaIntegration, resolve) -> x.Config:
    account = _first_account(integration)
    return x.Config(
        access_token=_account_token(integration, account, resolve),
        account_id=account["account_id"] if account else "",
    )


SPEC = register(
    FamilySpec(
        slug="social-media",
        label="Social media",
        model=SocialMediaIntegration,
        input_serializer=SocialMediaInput,
        providers={
            "facebook": ProviderBinding(
                key="facebook",
                display_name=facebook.display_name,
                build_config=_facebook_config,
                validate=facebook.validate,
                oauth=True,
            ),
            "instagram": ProviderBinding(
                key="instagram",
                display_name=instagram.display_name,
                build_config=_instagram_config,
                validate=instagram.validate,
                oauth=True,
            ),
            "x": ProviderBinding(
                key="x",
                display_name=x.display_name,
                build_config=_x_config,
                validate=x.validate,
                oauth=True,
            ),
        },
    )
)
