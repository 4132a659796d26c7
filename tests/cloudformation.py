"""template.yaml read as plain data, for tests that build AWS resources from it under moto.

CloudFormation tags (!Ref, !GetAtt, !Sub, ...) become ``{"!Tag": value}`` mappings, so tests
can read the very Properties the stack deploys: tests and infrastructure cannot drift apart.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

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
