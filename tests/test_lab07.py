"""Lab 07 (IAM): the scenarios behind its demos and widget, and its checks, both ways."""

import json

import pytest

from esmlab.course.checks import lab07
from esmlab.course.scenarios import iam
from esmlab.limits import MESSAGES, SQS_DENIED_RESULT

STREAM_ACTIONS = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                  "dynamodb:ListStreams"]

# --- the scenarios -------------------------------------------------------------------------------


@pytest.mark.parametrize("source", iam.SOURCES)
def test_least_privilege_and_the_managed_policy_create_a_mapping(source):
    for policy in ("least", "managed"):
        result = iam.creation(source, policy=policy)
        assert result.created and result.state == "Creating", result.summary
        assert all(ok for _, ok in result.checks)


def test_the_table_arn_does_not_reach_the_stream_v15():
    """iam-policy-example-lamda-process-dynamodb-streams: the stream is table/<t>/stream/*."""
    result = iam.creation("dynamodb", resource="table")
    assert not result.created
    assert result.error == "InvalidParameterValueException: " + MESSAGES["V15"].format(
        arn=result.source_arn)
    assert not any(ok for _, ok in result.checks)


@pytest.mark.parametrize("action", iam.LEAST["dynamodb"])
def test_every_dynamodb_stream_action_is_needed_at_creation(action):
    result = iam.creation("dynamodb", drop=action)
    assert not result.created and "Cannot access stream" in result.error
    assert dict(result.checks)[action] is False


def test_sqs_creation_checks_receive_message_only_v14():
    assert iam.creation("sqs", drop="sqs:ReceiveMessage").error == (
        "InvalidParameterValueException: " + MESSAGES["V14"])
    assert iam.creation("sqs", policy="none").error.endswith(MESSAGES["V14"])
    # the other two are needed at run time (the stalled scenario), not checked at creation
    assert iam.creation("sqs", drop="sqs:DeleteMessage").created
    assert iam.creation("sqs", drop="sqs:GetQueueAttributes").created


def test_kinesis_without_subscribe_to_shard_is_created_esmlab_models_no_efo():
    assert iam.creation("kinesis", drop="kinesis:SubscribeToShard").created
    assert not iam.creation("kinesis", drop="kinesis:GetRecords").created


def test_a_denied_delete_stalls_the_mapping_and_the_fix_lets_it_go_on():
    result = iam.stalled()
    assert result.ok and result.sent == 30
    assert {a for _, a in result.denials} == {"sqs:DeleteMessage"}
    assert all(result.deny_at <= t <= result.fix_at for t, _ in result.denials)
    assert max(r for *_, r in result.invocations) == iam.STALLED_MAX_RECEIVE  # came back
    assert result.in_dlq > 0 and result.deleted + result.in_dlq == result.sent
    # the numbers the chapter's figure describes: 6 deleted before the Deny, 6 after, 18 in the DLQ
    assert (result.deleted, result.in_dlq, len(result.denials)) == (12, 18, 24)
    assert sum(1 for s, *_ in result.invocations if s < result.deny_at) == 6
    values = [v for _, v in result.results]
    assert values == [None, SQS_DENIED_RESULT.format(call="DeleteMessage"), "OK"]


def test_without_the_fix_everything_received_after_the_deny_reaches_the_dlq():
    result = iam.stalled(fix_at=None)
    deleted_before = sum(1 for s, *_ in result.invocations if s < result.deny_at)
    assert result.deleted == deleted_before and result.in_dlq == result.sent - deleted_before
    assert result.ok


def test_a_denied_receive_stops_invocations_and_loses_nothing():
    result = iam.stalled(denied="sqs:ReceiveMessage")
    # a long poll under way at the Deny was authorized when it began (at most 20 s)
    during = [s for s, *_ in result.invocations if result.deny_at + 20 < s < result.fix_at]
    assert not during and result.denials
    assert result.deleted == result.sent and result.in_dlq == 0 and result.ok


def test_the_destination_needs_send_message():
    """kinesis-on-failure-destination: a failed delivery is DestinationDeliveryFailures."""
    ok, missing = iam.destination(True), iam.destination(False)
    assert ok.works and ok.delivered_messages == 1 and ok.fates["counts"] == {"destination": 1}
    assert ok.failures_metric == 0
    assert not missing.works and missing.delivered_messages == 0
    assert missing.failures_metric == 1 and missing.fates["counts"] == {"dropped": 1}
    assert "sqs:SendMessage" in missing.destinations[0][2]


def test_scenarios_are_deterministic_and_cached():
    assert iam.creation("sqs") is iam.creation("sqs")
    assert iam.stalled().denials == iam._stalled.__wrapped__(
        "sqs:DeleteMessage", 60.0, 300.0, 30, 420.0, None).denials


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="source must be one of"):
        iam.creation("kafka")
    with pytest.raises(ValueError, match="resource 'table' is for source 'dynamodb'"):
        iam.creation("sqs", resource="table")
    with pytest.raises(ValueError, match="drop must be one of"):
        iam.creation("dynamodb", drop="dynamodb:ListShards")  # E35: no such action (myth)
    with pytest.raises(ValueError, match="fix_at must be None or a time after"):
        iam.stalled(deny_at=100, fix_at=50)
    with pytest.raises(ValueError, match="denied must be one of"):
        iam.stalled(denied="sqs:SendMessage")


def test_the_widgets_settings_run():  # their speed: benchmarks/widgets.py
    iam.creation("sqs")
    iam.creation("kinesis", drop="kinesis:ListShards", resource="*")
    iam.stalled(deny_at=90, fix_at=240)


def test_the_pictures_draw(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    iam.draw_creation(iam.creation("dynamodb", resource="table"))
    plt.savefig(tmp_path / "c.png")
    iam.draw_stalled(iam.stalled())
    plt.savefig(tmp_path / "s.png")
    plt.close("all")
    assert (tmp_path / "c.png").stat().st_size > 10_000


# --- the checks, both ways -----------------------------------------------------------------------


def good_policy(table, destination):
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": STREAM_ACTIONS, "Resource": f"{table}/stream/*"},
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": destination}]}


def test_exercise1_passes_the_stream_arn_and_teaches_the_table_arn_and_wildcards():
    assert lab07.stream_resource(lambda t: f"{t}/stream/*")
    table = lab07.stream_resource(lambda t: t)
    assert not table and "That is the table's ARN" in table.message
    assert "Cannot access stream" in table.message
    for too_wide in ("*", "arn:aws:dynamodb:us-east-1:123456789012:table/*/stream/*"):
        check = lab07.stream_resource(lambda t, w=too_wide: w)
        assert not check and "another table" in check.message
    assert "followed by /stream/" in lab07.stream_resource(lambda t: f"{t}/stream").message
    today = lab07.stream_resource(lambda t: f"{t}/stream/2025-01-01T00:00:00")  # moto's label
    assert not today and "gets a new label" in today.message
    assert "must be a function" in lab07.stream_resource("arn").message


def test_exercise2_passes_least_privilege_and_names_what_is_wrong():
    assert lab07.least_privilege(good_policy)

    def without_send(t, d):
        return {"Version": "2012-10-17", "Statement": good_policy(t, d)["Statement"][:1]}

    check = lab07.least_privilege(without_send)
    assert not check and "DestinationDeliveryFailures 1" in check.message

    def extra(t, d):
        policy = good_policy(t, d)
        policy["Statement"][0]["Action"] = [*STREAM_ACTIONS, "dynamodb:ListShards"]  # E35, a myth
        return policy

    check = lab07.least_privilege(extra)
    assert not check and "works without dynamodb:ListShards" in check.message  # myth
    assert "there is no such action" in check.message  # E35

    def all_sqs(t, d):
        policy = good_policy(t, d)
        policy["Statement"][1]["Action"] = "sqs:*"
        return policy

    check = lab07.least_privilege(all_sqs)
    assert not check and "sqs:DeleteQueue on" in check.message

    def on_table(t, d):
        policy = good_policy(t, d)
        policy["Statement"][0]["Resource"] = t
        return policy

    assert "was rejected" in lab07.least_privilege(on_table).message

    def with_logs(t, d):  # the function's logs: allowed, not checked
        policy = good_policy(t, d)
        policy["Statement"].append({"Effect": "Allow", "Action": ["logs:CreateLogGroup"],
                                    "Resource": "*"})
        return policy

    assert lab07.least_privilege(with_logs)
    assert "policy document" in lab07.least_privilege(lambda t, d: {"Statement": 1}).message


def put(client, role, name, effect, action):
    client.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [
            {"Effect": effect, "Action": action, "Resource": "*"}]}))


def test_exercise3_passes_a_narrower_deny_and_teaches_the_wrong_fixes():
    def narrower(client, role):
        put(client, role, "guardrail", "Deny", "sqs:DeleteQueue")

    def swap(client, role):
        client.delete_role_policy(RoleName=role, PolicyName="guardrail")
        client.detach_role_policy(RoleName=role, PolicyArn=lab07.EX3_MANAGED[0])
        client.attach_role_policy(RoleName=role, PolicyArn=iam.MANAGED["sqs"])

    def add_allow(client, role):
        put(client, role, "allow-delete", "Allow", "sqs:DeleteMessage")

    def drop_guardrail(client, role):
        client.delete_role_policy(RoleName=role, PolicyName="guardrail")

    assert lab07.stalled_mapping("sqs:DeleteMessage", narrower)
    assert lab07.stalled_mapping("sqs:DeleteMessage", swap)
    wrong = lab07.stalled_mapping("sqs:ReceiveMessage", narrower)
    assert not wrong and "denied sqs:DeleteMessage" in wrong.message
    allow = lab07.stalled_mapping("sqs:DeleteMessage", add_allow)
    assert not allow and "explicit Deny wins" in allow.message
    dropped = lab07.stalled_mapping("sqs:DeleteMessage", drop_guardrail)
    assert not dropped and "may now delete the queue" in dropped.message
    def detach_only(client, role):
        client.delete_role_policy(RoleName=role, PolicyName="guardrail")
        client.detach_role_policy(RoleName=role, PolicyArn=lab07.EX3_MANAGED[0])

    nothing_left = lab07.stalled_mapping("sqs:DeleteMessage", detach_only)
    assert not nothing_left and "denied sqs:ReceiveMessage" in nothing_left.message
    assert "what nothing allows is denied" in nothing_left.message
    assert "raised AttributeError" in lab07.stalled_mapping(
        "sqs:DeleteMessage", lambda c, r: c.no_such_call()).message


def test_unfixed_exercise3_mapping_stalls_with_its_last_processing_result():
    result = lab07.ex3_scenario()
    assert result.deleted == 0 and result.in_dlq == result.sent and result.ok
    assert result.results[-1][1] == SQS_DENIED_RESULT.format(call="DeleteMessage")


def test_checks_say_what_is_not_defined():
    for check in (lab07.check_stream_resource, lab07.check_least_privilege,
                  lab07.check_stalled_mapping):
        assert "not defined yet" in check({}).message
