"""The loopback GitHub of `conditional_reads.py`, in a process of its own so its CPU time
can be measured apart from the catalog's.

Serves one private repository `acme/mono` with `--files` catalog files
(`services/s<i>/catalog-info.yaml`, one Component each), readable with the token `bench`,
prints its base URL on stdout and runs until SIGTERM. Two control endpoints (answered
before the GitHub routes, not logged): `POST /_bench/conditional?on=0|1` turns the answers
to `If-None-Match` off or on, `POST /_bench/touch` changes `README.md` (a new commit whose
catalog files are unchanged).

Alone: `uv run python benchmarks/catalog/_loopback_github.py --files 1000`
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from backstage_backend_test_utils.scm import (
    FakeRepository,
    FakeRequest,
    FakeResponse,
    LoopbackGithub,
    start_loopback_github_api,
)


def component(index: int) -> bytes:
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        f"metadata:\n  name: service-{index}\n  description: Service number {index}\n"
        "  tags: [java, web]\n"
        f"spec:\n  type: service\n  lifecycle: production\n  owner: team-{index % 50}\n"
        f"  providesApis: [api-{index}]\n"
    ).encode()


class Conditional(LoopbackGithub):
    """A loopback GitHub that can be told to ignore `If-None-Match`."""

    honour_conditional: bool = True

    def conditional(self, request: FakeRequest, etag: str, response: FakeResponse) -> FakeResponse:
        if not self.honour_conditional:
            response.headers["etag"] = etag
            return response
        return super().conditional(request, etag, response)


async def main(files: int) -> None:
    state = Conditional()
    repository = FakeRepository(
        "acme",
        "mono",
        {"main": {f"services/s{i}/catalog-info.yaml": component(i) for i in range(files)}},
        private=True,
    )
    repository.set_file("README.md", "0")
    state.add_repository(repository)
    state.tokens["bench"] = {"acme"}
    touches = [0]

    async def control(request: FakeRequest) -> FakeResponse | None:
        if request.raw_path == "/_bench/conditional":
            state.honour_conditional = request.query.get("on") == "1"
            return FakeResponse.json({"conditional": state.honour_conditional})
        if request.raw_path == "/_bench/touch":
            touches[0] += 1
            repository.set_file("README.md", str(touches[0]))
            return FakeResponse.json({"touches": touches[0]})
        return None

    state.handlers.append(control)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with start_loopback_github_api(state) as github:
        print(github.base_url, flush=True)
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=1000)
    asyncio.run(main(parser.parse_args().files))
    sys.exit(0)
