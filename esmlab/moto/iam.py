"""Load only the AWS managed policies a lab can use, so a Lab starts in milliseconds.

moto can load all ~1,500 AWS managed policies into every IAM backend it creates; measured, that
costs ~0.9 s on the first IAM call of every lab. Labs need the Lambda execution-role policies
(https://docs.aws.amazon.com/aws-managed-policy/latest/reference/) and the service policies a learner may attach, so esmlab keeps those families
(the documents are moto's own copies of AWS's).
"""

from __future__ import annotations

import functools
import json

from moto.iam import models as iam_models
from moto.iam.aws_managed_policies import aws_managed_policies_data

FAMILIES = ("AWSLambda", "AmazonSQS", "AmazonKinesis", "AmazonDynamoDB", "AmazonSNS", "AmazonS3",
            "CloudWatch")

_saved = None


@functools.cache
def _documents() -> dict:
    everything = json.loads(aws_managed_policies_data)
    return {name: doc for name, doc in everything.items() if name.startswith(FAMILIES)}


def _init_aws_policies(self):
    return [
        iam_models.AWSManagedPolicy.from_data(name, self.account_id, self.region_name, doc)
        for name, doc in _documents().items()
    ]


def install() -> None:
    global _saved
    if _saved is None:
        _saved = iam_models.IAMBackend._init_aws_policies
        iam_models.IAMBackend._init_aws_policies = _init_aws_policies


def uninstall() -> None:
    global _saved
    if _saved is not None:
        iam_models.IAMBackend._init_aws_policies = _saved
        _saved = None
