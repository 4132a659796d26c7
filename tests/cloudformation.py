"""template.yaml read as plain data, for tests that build AWS resources from it under moto.

CloudFormation tags (!Ref, !GetAtt, !Sub, ...) become ``{"!Tag": value}`` mappings, so tests
can read the very Properties the stack deploys: tests and infrastructure cannot drift apart.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that accepts CloudFormation tags."""


def _cfn_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {f"!{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _cfn_tag)


@cache
def _cached() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)
    return loaded


def load_template() -> dict[str, Any]:
    """The whole template as data (a fresh copy-safe dict: do not mutate it)."""
    return _cached()


def create_table_from_template(dynamodb: Any, resource: str, name: str) -> None:
    """Create a DynamoDB table with the key schema and billing mode template.yaml declares."""
    properties = load_template()["Resources"][resource]["Properties"]
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=properties["AttributeDefinitions"],
        KeySchema=properties["KeySchema"],
        BillingMode=properties["BillingMode"],
    )


# ------------------------------------------------------------------ a mocked account (moto)

#: The mocked account's region and resource names (what the tests' functions are told).
REGION = "eu-west-3"
BUCKET = "creditscore-models-test"
CLIENTS_TABLE = "creditscore-clients-test"
DECISIONS_TABLE = "creditscore-decisions-test"


def template_resources() -> dict[str, Any]:
    template = load_template()
    resources: dict[str, Any] = template["Resources"]
    return resources


def create_resources_from_template() -> None:
    """The bucket and both tables, with template.yaml's Properties (inside mock_aws)."""
    resources = template_resources()
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    bucket = resources["ModelBucket"]["Properties"]
    s3.put_bucket_versioning(
        Bucket=BUCKET, VersioningConfiguration=bucket["VersioningConfiguration"]
    )
    # CloudFormation's rule is the API's, under another name for one key.
    rules = [
        {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
        for rule in bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    ]
    s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration={"Rules": rules})
    s3.put_public_access_block(
        Bucket=BUCKET,
        PublicAccessBlockConfiguration=bucket["PublicAccessBlockConfiguration"],
    )
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for logical_id, name in (("ClientsTable", CLIENTS_TABLE), ("DecisionsTable", DECISIONS_TABLE)):
        properties = resources[logical_id]["Properties"]
        dynamodb.create_table(
            TableName=name,
            KeySchema=properties["KeySchema"],
            AttributeDefinitions=properties["AttributeDefinitions"],
            BillingMode=properties["BillingMode"],
        )


def lambda_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **overrides: str) -> None:
    """The environment template.yaml gives a function, on this module's mocked resources."""
    for name, value in {
        "STORE_BACKEND": "aws",
        "MODEL_BUCKET": BUCKET,
        "CLIENTS_TABLE": CLIENTS_TABLE,
        "DECISIONS_TABLE": DECISIONS_TABLE,
        "AUTH_MODE": "jwt",
        "AWS_REGION": REGION,
        "MODEL_CACHE_DIR": str(tmp_path / "lambda-tmp"),
        **overrides,
    }.items():
        monkeypatch.setenv(name, value)
