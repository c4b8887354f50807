"""The portal content bucket and the rendered ``defaults/`` baseline in it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.core import naming, rendering
from infra.core.content_model import content_manifest, content_type
from infra.program.options import stateful


@dataclass(frozen=True)
class PortalArgs:
    files: Mapping[str, bytes]
    """The rendered ``defaults/`` baseline (``rendering.render_content``), keys relative to it."""
    durable: bool
    """Production: releases and promotion records live here; the bucket and every setting
    of it are protected and retained. No bucket is ever destroyed with its content: a
    preview's holds the client's phase-3 releases and imports, weeks of work."""
    bucket_name: pulumi.Input[str]
    """Unique per installation (``naming.content_bucket``): S3 names are global."""
    kms_key_arn: pulumi.Input[str]
    """Default encryption of every object (with an S3 bucket key, to keep KMS calls down)."""
    access_log_bucket: pulumi.Input[str]
    """The platform's log bucket (``accessLogBucketName``): who read, wrote or deleted what."""
    tags: Mapping[str, str]


class Portal(pulumi.ComponentResource):
    """A private, versioned, KMS-encrypted, TLS-only bucket holding the tenant's content.

    Pulumi owns ``defaults/`` (rendered from ``templates/``) and nothing else:
    ``releases/`` and ``current.json`` are written by ``tenantctl``.
    """

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    default_keys: list[str]
    """Every object key Pulumi manages, the manifest included."""
    manifest: dict[str, str]
    """``{file: sha256}`` of the rendered defaults (keys relative to ``defaults/``)."""

    def __init__(
        self, name: str, args: PortalArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenants:index:Portal", name, None, opts)
        # The bucket's settings are retained with it in production: destroying the stack
        # must not leave a retained bucket unversioned, unencrypted or public.
        child = stateful(self, args.durable)
        files = args.files
        manifest = content_manifest(files)

        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=args.bucket_name,
            tags=dict(args.tags),
            opts=stateful(self, args.durable),
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        ownership = aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=child,
        )
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms",
                        kms_master_key_id=args.kms_key_arn,
                    ),
                    bucket_key_enabled=True,
                )
            ],
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=bucket.arn.apply(tls_only_policy),
            # S3 rejects policy writes that race the public-access block.
            opts=stateful(self, args.durable, depends_on=[public_access]),
        )
        aws.s3.BucketLogging(
            f"{name}-access-logging",
            bucket=bucket.id,
            target_bucket=args.access_log_bucket,
            target_prefix=bucket.bucket.apply(access_log_prefix),
            opts=child,
        )

        # Objects wait for the bucket's settings so none is ever written
        # unencrypted, unversioned or with an ACL-owned copy.
        object_opts = pulumi.ResourceOptions(
            parent=self, depends_on=[public_access, ownership, versioning, encryption]
        )
        keys = []
        for key in sorted(files):
            full_key = naming.DEFAULTS_PREFIX + key
            keys.append(full_key)
            aws.s3.BucketObjectv2(
                f"{name}-{full_key}",
                bucket=bucket.id,
                key=full_key,
                content=files[key].decode("utf-8"),
                content_type=content_type(key),
                tags=dict(args.tags),
                opts=object_opts,
            )
        aws.s3.BucketObjectv2(
            f"{name}-{naming.MANIFEST_KEY}",
            bucket=bucket.id,
            key=naming.MANIFEST_KEY,
            content=rendering.manifest_bytes(manifest).decode("utf-8"),
            content_type=content_type(naming.MANIFEST_KEY),
            tags=dict(args.tags),
            opts=object_opts,
        )
        keys.append(naming.MANIFEST_KEY)

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.default_keys = keys
        self.manifest = manifest
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "default_keys": self.default_keys,
                "manifest": self.manifest,
            }
        )


def tls_only_policy(bucket_arn: str) -> str:
    """A bucket policy refusing every request that does not arrive over TLS."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        },
        sort_keys=True,
    )


def access_log_prefix(bucket_name: str) -> str:
    """Where a content bucket's access logs go in the platform's log bucket."""
    return f"{bucket_name}/"
