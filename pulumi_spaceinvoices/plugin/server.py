"""``pulumi-resource-spaceinvoices``: the plugin's gRPC server, the SDK's experimental provider server
with this package's errors reported as one line.

The SDK's servicer re-raises every exception as ``"<message>:\\n<traceback>"``, so a rejected token
would reach ``pulumi up`` as twenty lines of Python frames. Here each RPC that can fail finds this
package's error behind that (the SDK raises it while handling ours, so ours is its context) and
aborts the call with ``"<ErrorClass>: <message>"`` instead: the message already names the operation,
the object, the request id and what to do, and never holds a secret. Any other exception is a bug
and keeps its traceback.

It also answers DiffConfig itself: the SDK's puts the provider's ``changes`` bool straight into the
protocol's enum, where ``True`` is ``DIFF_NONE``, so a new token or API URL on an explicit provider
would be reported as no change and never reach the plugin.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from .._version import __version__
from ..errors import SpaceInvoicesError

RPCS_THAT_FAIL = ("CheckConfig", "DiffConfig", "Configure", "Check", "Diff", "Create", "Read", "Update", "Delete",
                  "Invoke", "GetSchema")


def ours(error: BaseException | None) -> SpaceInvoicesError | None:
    """This package's error in ``error``'s chain (cause or context), if any."""
    pending, seen = [error], set()
    while pending:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        if isinstance(current, SpaceInvoicesError):
            return current
        seen.add(id(current))
        pending += [current.__cause__, current.__context__]
    return None


def one_line(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def rpc(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await method(self, request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as error:
            found = ours(error)
            if found is None:
                raise
            message = " ".join(f"{type(found).__name__}: {found}".split("\n"))
        await context.abort(grpc.StatusCode.UNKNOWN, message)

    rpc.__name__ = method.__name__
    return rpc


async def diff_config(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
    """DiffConfig as the SDK's Diff answers it: ``changes`` True, False or None as DIFF_SOME, DIFF_NONE
    or DIFF_UNKNOWN (see the module docstring)."""
    from pulumi.provider.experimental.property_value import PropertyValue
    from pulumi.provider.experimental.provider import DiffRequest
    from pulumi.runtime.proto import provider_pb2 as proto

    response = await self._provider.diff_config(DiffRequest(
        request.urn, request.id, PropertyValue.unmarshal_map(request.olds), PropertyValue.unmarshal_map(request.news),
        request.ignoreChanges))
    changes = {None: proto.DiffResponse.DIFF_UNKNOWN, True: proto.DiffResponse.DIFF_SOME,
               False: proto.DiffResponse.DIFF_NONE}[response.changes]
    return proto.DiffResponse(replaces=response.replaces, stables=response.stables, changes=changes,
                              diffs=response.diffs, deleteBeforeReplace=response.delete_before_replace)


def servicer_class() -> type:
    from pulumi.provider.experimental.server import ProviderServicer

    methods = {name: one_line(getattr(ProviderServicer, name)) for name in RPCS_THAT_FAIL}
    methods["DiffConfig"] = one_line(diff_config)
    return type("SpaceInvoicesServicer", (ProviderServicer,), methods)


def main() -> None:
    """Serve the provider: the engine starts this with its address and reads the port from stdout."""
    import argparse
    import asyncio

    import pulumi
    from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS  # the SDK's servers' options (private)
    from pulumi.runtime.proto import provider_pb2_grpc

    from .provider import SpaceInvoicesPlugin

    parser = argparse.ArgumentParser(prog="pulumi-resource-spaceinvoices",
                                     description="The Space Invoices Pulumi provider plugin (a gRPC server).")
    parser.add_argument("engine", help="the Pulumi engine's address")
    parser.add_argument("--logflow", action="store_true", help="ignored")
    parser.add_argument("--logtostderr", action="store_true", help="ignored")
    parser.add_argument("-v", type=int, default=0, help="ignored")
    parser.add_argument("--tracing", default=None, help="ignored")
    known, _ = parser.parse_known_args()
    # The core logs (adoption, deactivation spared) through pulumi.log: send that to the engine.
    pulumi.runtime.configure(pulumi.runtime.Settings(project=None, stack=None, engine=known.engine))

    async def serve() -> None:
        server = grpc.aio.server(options=_GRPC_CHANNEL_OPTIONS)
        servicer = servicer_class()(sys.argv[1:], __version__, SpaceInvoicesPlugin(), engine_address=known.engine)
        provider_pb2_grpc.add_ResourceProviderServicer_to_server(servicer, server)
        port = server.add_insecure_port(address="127.0.0.1:0")
        await server.start()
        # The engine stops a plugin with SIGINT: stop serving then, rather than let a KeyboardInterrupt
        # land wherever the loop happens to be (a CI run once waited 30 s for an exit that never came).
        loop = asyncio.get_running_loop()
        for stop_signal in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(stop_signal, lambda: asyncio.ensure_future(server.stop(None)))
        sys.stdout.write(f"{port}\n")
        sys.stdout.flush()
        await server.wait_for_termination()

    with contextlib.suppress(KeyboardInterrupt):  # a SIGINT before the loop's handlers are in place
        asyncio.run(serve())


if __name__ == "__main__":
    main()
