"""CloudWatch inside a Lab: metrics (publisher.py), the functions' logs (logs.py), alarms (alarms.py).

Every boto3 client made while a Lab is open reaches moto's CloudWatch and CloudWatch Logs as
usual. Just before a CloudWatch or Logs call, esmlab writes what it has not written yet (metrics
from the trace, log lines of finished invocations), so the learner's own ``get_metric_data``,
``filter_log_events`` or ``describe_alarms`` see everything up to ``lab.now``.
"""

from __future__ import annotations

import botocore.handlers

from .alarms import Alarms
from .logs import Logs
from .publisher import Publisher

_active = None  #: the open lab's CloudWatch


class CloudWatch:
    def __init__(self, lab):
        self.lab = lab
        self.publisher = Publisher(lab)
        self.logs = Logs(lab)
        self.alarms = Alarms(lab, self.publisher)
        self.publisher._minute_hooks.append(self.alarms.evaluate)


def _keep_params(params, model, context, **kwargs):
    if _active is not None:
        context["esmlab_params"] = dict(params)


def _before_cloudwatch(model, context, **kwargs):
    if _active is None:
        return None
    _active.publisher.flush()
    return _active.alarms.before_call(model.name, context.get("esmlab_params", {}))


def _after_cloudwatch(model, parsed, context, **kwargs):
    if _active is not None:
        _active.alarms.after_call(model.name, context.get("esmlab_params", {}), parsed)


def _before_logs(**kwargs):
    if _active is not None:
        _active.logs.flush()


botocore.handlers.BUILTIN_HANDLERS += [
    ("before-parameter-build.cloudwatch", _keep_params),
    ("before-call.cloudwatch", _before_cloudwatch),
    ("after-call.cloudwatch", _after_cloudwatch),
    ("before-call.cloudwatch-logs", _before_logs),
]


def install(lab) -> CloudWatch:
    global _active
    _active = CloudWatch(lab)
    _active.publisher.start()
    _active.logs.install()
    return _active


def uninstall(lab) -> None:
    global _active
    if _active is not None and _active.lab is lab:
        _active.publisher.stop()
        _active.logs.uninstall()
        _active = None
