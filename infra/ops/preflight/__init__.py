"""``tenantctl preflight``: read-only checks of the account and the platform before a deploy.

``run`` resolves the platform and the fleet and runs every check; ``account`` reads the
account's settings and quotas, ``platform`` the platform's outputs and resources,
``tooling`` the Pulumi backend and the policy pack. The verdicts are pure rules
(``infra.core.preflight``).
"""
