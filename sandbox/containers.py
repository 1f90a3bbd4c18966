"""One wiring Container per consumer worker of the local SQS poller, as Lambda gives each
concurrent invocation a container of its own.

In a container, module state is the container's: `wiring.container()` builds one GHL and one
CallTools client, each pacing itself at its 1/CONSUMER_MAX_CONCURRENCY share of the API's rate
(wiring's `_client_options`), one ContactSync whose lease owner id is the container's, one
idempotency config holding the running invocation's context. The poller's worker threads share a
process, so each gets a Container of its own built from the same Settings, and its invocations
run inside `wiring.thread_container`, where the handler's `wiring.container()` answers it.

Still shared, unlike Lambda: the process's logger and the metrics buffer of runtime/observability.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.runtime import wiring
from chalicelib.runtime.settings import Settings
from sandbox.poller import Handler, LocalLambdaContext


class LambdaContainers:
    """`count` Containers for the deployed handler; `handler(i)` is worker i's invocation."""

    def __init__(
        self,
        handler: Handler,
        count: int,
        settings: Settings | None = None,
        on_new: Callable[[wiring.Container], Any] | None = None,
    ) -> None:
        settings = settings or wiring.container().settings
        self._handler = handler
        self.containers = [wiring.Container(settings) for _ in range(count)]
        for own in self.containers:
            # The AWS clients now, one container after another: creating boto3 clients from the
            # default session in several threads at once is not safe.
            _ = own.sqs, own.dynamodb_client, own.dynamodb
            if on_new is not None:
                on_new(own)

    def handler(self, worker: int) -> Handler:
        own = self.containers[worker]

        def invoke(event: dict[str, Any], context: LocalLambdaContext) -> Any:
            with wiring.thread_container(own):
                return self._handler(event, context)

        return invoke
