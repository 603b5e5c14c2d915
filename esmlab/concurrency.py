"""Account and reserved concurrency: who may start an invocation now.

Concurrency counts invocations in flight; one invocation carries one batch
(https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html). A function with reserved
concurrency may run at most that many at once, and that amount is taken out of the account's pool;
the other functions share what is left. The default account limit is 1,000
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html).
"""

from __future__ import annotations

from moto.awslambda.utils import get_backend


class Concurrency:
    def __init__(self, lab, account_limit: int = 1000):
        self.lab = lab
        self.account_limit = account_limit
        self.running: dict[str, int] = {}

    def reserved(self, name: str) -> int | None:
        """The function's reserved concurrency, read from moto so boto3 changes count too."""
        backend = get_backend(self.lab.account_id, self.lab.region)
        value = backend.get_function(name).reserved_concurrency
        return None if value is None else int(value)

    def _unreserved_pool(self) -> tuple[int, int]:
        names = self.lab.functions
        reserved = {n: self.reserved(n) for n in names}
        pool = self.account_limit - sum(r for r in reserved.values() if r is not None)
        used = sum(self.running.get(n, 0) for n, r in reserved.items() if r is None)
        return pool, used

    def try_acquire(self, name: str) -> bool:
        """Take one unit for ``name``; False means the invocation is throttled."""
        running = self.running.get(name, 0)
        reserved = self.reserved(name)
        if reserved is not None:
            allowed = running < reserved
        else:
            pool, used = self._unreserved_pool()
            allowed = used < pool
        if allowed:
            self.running[name] = running + 1
        return allowed

    def release(self, name: str) -> None:
        self.running[name] -= 1
