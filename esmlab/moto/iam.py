"""moto's IAM inside a Lab: only the managed policies a lab can use, and a count of IAM changes.

Managed policies. moto can load all ~1,500 AWS managed policies into every IAM backend it creates; measured, that
costs ~0.9 s on the first IAM call of every lab. Labs need the Lambda execution-role policies
(https://docs.aws.amazon.com/aws-managed-policy/latest/reference/) and the service policies a learner may attach, so esmlab keeps those families
(the documents are moto's own copies of AWS's).

Changes. The SQS poller checks the execution role on every call it makes (esmlab/permissions.py,
``allowed_cached``) and remembers each answer until IAM changes. :data:`generation` counts the
calls to moto's IAM backend that can change what a role's identity policies allow (attach,
detach, put, delete, new policy versions, default version, permissions boundary, roles created
or deleted); a remembered answer is used only while the count is unchanged.
"""

from __future__ import annotations

import functools
import json

from moto.iam import models as iam_models
from moto.iam.aws_managed_policies import aws_managed_policies_data

from .patching import Patches

FAMILIES = ("AWSLambda", "AmazonSQS", "AmazonKinesis", "AmazonDynamoDB", "AmazonSNS", "AmazonS3",
            "CloudWatch")

_saved = None
generation = 0  #: IAM changes since esmlab was imported (see the module doc)

# IAMBackend methods that can change what a role may do.
MUTATIONS = (
    "create_role", "delete_role", "create_service_linked_role", "delete_service_linked_role",
    "attach_role_policy", "detach_role_policy", "put_role_policy", "delete_role_policy",
    "put_role_permissions_boundary", "delete_role_permissions_boundary",
    "create_policy", "delete_policy", "create_policy_version", "delete_policy_version",
    "set_default_policy_version",
)


@functools.cache
def _documents() -> dict:
    everything = json.loads(aws_managed_policies_data)
    return {name: doc for name, doc in everything.items() if name.startswith(FAMILIES)}


def _init_aws_policies(self):
    return [
        iam_models.AWSManagedPolicy.from_data(name, self.account_id, self.region_name, doc)
        for name, doc in _documents().items()
    ]


def _bump() -> None:
    global generation
    generation += 1


def _counted(method):
    @functools.wraps(method)
    def counted(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        finally:  # even a call that failed half-way may have changed something
            _bump()
    return counted


_PATCHES = Patches([
    (iam_models.IAMBackend, name, _counted(iam_models.IAMBackend.__dict__[name]))
    for name in MUTATIONS
])


def install() -> None:
    global _saved
    _bump()  # a new Lab means new IAM backends: nothing remembered applies
    if _saved is None:
        _saved = iam_models.IAMBackend._init_aws_policies
        iam_models.IAMBackend._init_aws_policies = _init_aws_policies
    _PATCHES.apply()


def uninstall() -> None:
    global _saved
    _bump()
    if _saved is not None:
        iam_models.IAMBackend._init_aws_policies = _saved
        _saved = None
    _PATCHES.restore()
