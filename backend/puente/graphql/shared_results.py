"""One execution and one encoding per event for every subscriber who asked the same thing.

A notice is reloaded once per process (``events.fanout.reload_once``), so every subscriber
of it is handed the *same* object. graphql-core would still execute each subscriber's
selection on it separately, and the WebSocket would encode each answer to JSON separately:
for 1,000 subscribers of one payment that was most of an event's cost (issue 15 #5).

* :class:`SharedEventExecutor` (the schema's executor class) executes a subscription event
  once per distinct *(event object, document, operation, variables, viewer)* and hands the
  same result to every subscriber with that key. The viewer (``shared_result_key()`` of the
  GraphQL context: the user and session scope) is part of the key because resolvers may
  answer by who asks; a context without that method shares nothing. A result with errors is
  never shared (errors are reported, masked and logged per operation): the other
  subscribers then execute for themselves, as before.
* Its data is a :class:`SharedData`, which keeps its JSON once encoded; :func:`next_frame`
  builds a ``graphql-transport-ws`` ``next`` frame around those bytes, so each subscriber's
  frame differs only by its operation id (``view.PuenteGraphQL`` sends it).

Results are kept only while the event object lives (a weak reference), so nothing piles up.
Queries and mutations are untouched: only per-event executors of a subscription share.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Awaitable, Hashable, Mapping
from functools import partial
from typing import Any, cast

from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from graphql import ExecutionResult

__all__ = ["SharedData", "SharedEventExecutor", "next_frame"]


class SharedData(dict[str, Any]):
    """The data of a result many subscribers share; read-only by convention, encoded once."""

    __slots__ = ("_json",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        super().__init__(data)
        self._json: str | None = None

    def json(self) -> str:
        """Compact JSON, as strawberry encodes a frame (``separators=(",", ":")``)."""
        if self._json is None:
            self._json = json.dumps(self, separators=(",", ":"))
        return self._json


def next_frame(message: Mapping[str, Any]) -> str | None:
    """The encoded ``next`` frame of ``message`` when it carries only shared data, else None."""
    if message.get("type") != "next":
        return None
    payload = message.get("payload")
    if not isinstance(payload, dict) or payload.keys() != {"data"}:
        return None
    data = payload["data"]
    if not isinstance(data, SharedData):
        return None
    head = json.dumps({"id": message["id"], "type": "next"}, separators=(",", ":"))
    return f'{head[:-1]},"payload":{{"data":{data.json()}}}}}'


# Results by event object: id(event) -> (weak reference to it, results by key). The weak
# reference's callback drops the entry when the event object is gone.
_Results = dict[Hashable, "asyncio.Future[ExecutionResult | None]"]
_BY_EVENT: dict[int, tuple[weakref.ref[Any], _Results]] = {}


def _results_for(event: Any) -> _Results | None:
    number = id(event)
    entry = _BY_EVENT.get(number)
    if entry is not None and entry[0]() is event:
        return entry[1]
    try:
        ref = weakref.ref(event, partial(_forget, number))
    except TypeError:
        return None  # not weakly referable (a dict, a str): not shared
    results: _Results = {}
    _BY_EVENT[number] = (ref, results)
    return results


def _forget(number: int, dead: weakref.ref[Any]) -> None:
    entry = _BY_EVENT.get(number)
    if entry is not None and entry[0] is dead:
        del _BY_EVENT[number]


def _variables_key(variables: Mapping[str, Any]) -> str:
    return json.dumps(variables, sort_keys=True, default=repr)


class _Answered:
    """A per-event executor whose answer is already known (another subscriber's result)."""

    __slots__ = ("result",)

    def __init__(self, result: ExecutionResult) -> None:
        self.result = result

    def execute_operation(self, serially: bool | None = None) -> ExecutionResult:
        return self.result


class SharedEventExecutor(StrawberryGraphQLCoreExecutionContext):
    """strawberry's executor, sharing the execution of a subscription event (see module)."""

    _per_event = False  # a copy made for one event (``build_per_event_executor``)
    _shared: tuple[_Results, Hashable] | None = None  # where its key's result goes
    _operation_key: tuple[str, str | None, str] | None = None  # once per subscription

    def build_per_event_executor(self, payload: Any) -> Any:
        key = self._share_key()
        results = _results_for(payload) if key is not None else None
        if results is not None:
            shared = results.get(key)
            if shared is not None and shared.done() and (answer := shared.result()) is not None:
                return _Answered(answer)  # nothing to build, nothing to execute
        executor = cast("SharedEventExecutor", super().build_per_event_executor(payload))
        executor._per_event = True
        executor._shared = (results, key) if results is not None else None
        return executor

    def execute_operation(self, serially: bool | None = None) -> Any:
        shared = self._shared if self._per_event else None
        if shared is None:
            return super().execute_operation(serially)
        results, key = shared
        waiting = results.get(key)
        if waiting is not None:
            return self._execute_after(waiting, serially)
        # The first of its key: execute, and let the others have the result.
        waiting = results[key] = asyncio.get_running_loop().create_future()
        field_errors = getattr(self.context_value, "field_errors", ())
        reported = len(field_errors)
        try:
            result = super().execute_operation(serially)
        except BaseException:
            self._settle(results, key, waiting, None)
            raise
        if self.is_awaitable(result):
            return self._settle_later(results, key, waiting, result, field_errors, reported)
        return self._settle(results, key, waiting, result, field_errors, reported)

    def _share_key(self) -> Hashable | None:
        """(document, operation, variables, viewer), or None: this subscriber shares nothing."""
        viewer_of = getattr(self.context_value, "shared_result_key", None)
        viewer = viewer_of() if viewer_of is not None else None
        if viewer is None:
            return None
        if self._operation_key is None:  # once per subscription
            location = self.operation.loc
            if location is None:
                return None
            name = self.operation.name.value if self.operation.name else None
            variables = _variables_key(self.variable_values.coerced)
            self._operation_key = (location.source.body, name, variables)
        return (*self._operation_key, viewer)

    @staticmethod
    def _settle(
        results: _Results,
        key: Hashable,
        waiting: asyncio.Future[ExecutionResult | None],
        result: Any,
        field_errors: Any = (),
        reported: int = 0,
    ) -> Any:
        """Share ``result`` if it is clean; else the others execute for themselves."""
        clean = (
            isinstance(result, ExecutionResult)
            and not result.errors
            and isinstance(result.data, dict)
            and len(field_errors) == reported
        )
        if clean:
            result = ExecutionResult(SharedData(result.data), None, result.extensions)
        else:
            results.pop(key, None)
        if not waiting.done():
            waiting.set_result(result if clean else None)
        return result

    async def _settle_later(
        self,
        results: _Results,
        key: Hashable,
        waiting: asyncio.Future[ExecutionResult | None],
        pending: Awaitable[Any],
        field_errors: Any,
        reported: int,
    ) -> Any:
        try:
            result = await pending
        except BaseException:
            self._settle(results, key, waiting, None)
            raise
        return self._settle(results, key, waiting, result, field_errors, reported)

    async def _execute_after(
        self, waiting: asyncio.Future[ExecutionResult | None], serially: bool | None
    ) -> Any:
        """Another subscriber's result once it is ready, or this subscriber's own."""
        if not waiting.done():
            # Shielded: this subscriber leaving must not cancel the answer for the others.
            await asyncio.wait({waiting})
        if not waiting.cancelled() and (answer := waiting.result()) is not None:
            return answer
        result = super().execute_operation(serially)
        return await result if self.is_awaitable(result) else result
