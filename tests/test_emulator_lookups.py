"""infra.devtools.emulator's lookups made once give the answers moto computes each time."""

from __future__ import annotations

import os

import moto
from joserfc import jwk
from moto import backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.utilities.utils import load_resource

from infra.devtools import emulator
from infra.ops.adapters import aws


def test_the_service_list_is_moto_s_package_listing():
    emulator.install()
    root = os.path.dirname(moto.__file__)
    listed = sorted(
        name
        for name in os.listdir(root)
        if os.path.isdir(os.path.join(root, name)) and not name.startswith("__")
    )

    assert list(backends.list_of_moto_modules()) == listed
    assert {"s3", "ssm", "cognitoidp", "cloudfront"} <= set(listed)


def test_user_pools_share_one_parsed_signing_key_equal_to_a_fresh_parse(aws_env: str):
    emulator.install()
    from moto.cognitoidp.models import cognitoidp_backends

    idp = aws.client("cognito-idp")
    ids = [idp.create_user_pool(PoolName=f"pool-{n}")["UserPool"]["Id"] for n in (1, 2)]
    backend = cognitoidp_backends[DEFAULT_ACCOUNT_ID][aws.region_name(None)]
    pools = [backend.user_pools[i] for i in ids]
    real = jwk.RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))

    assert pools[0].json_web_key is pools[1].json_web_key
    assert pools[0].json_web_key.as_dict(private=True) == real.as_dict(private=True)
