"""The Athena test engine behind a real HTTP endpoint on 127.0.0.1: the query calls go to the engine
(tests/athena_server.py), every other Athena call (work groups …) to the moto server unchanged."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.athena_server import AthenaTwin, Execution


class _Handler(BaseHTTPRequestHandler):
    twin: AthenaTwin

    def log_message(self, *args):  # quiet: pytest shows failures, not every request
        pass

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        action = (self.headers.get("X-Amz-Target") or "").rsplit(".", 1)[-1]
        handler = getattr(self, f"_{action}", None)
        if handler is None:
            return self._forward(body)
        try:
            self._reply(200, handler(json.loads(body or b"{}")))
        except KeyError as error:
            self._reply(400, {"__type": "InvalidRequestException", "Message": f"unknown query {error}"})

    def _execution(self, request: dict) -> Execution:
        execution = self.twin.find(request["QueryExecutionId"])
        if execution is None:
            raise KeyError(request["QueryExecutionId"])
        return execution

    def _StartQueryExecution(self, request):  # noqa: N802
        output = request.get("ResultConfiguration", {}).get("OutputLocation", "")
        database = request.get("QueryExecutionContext", {}).get("Database", "default")
        return {"QueryExecutionId": self.twin.start(request["QueryString"], database, output,
                                                    request.get("WorkGroup", "primary"))}

    def _GetQueryExecution(self, request):  # noqa: N802
        return self.twin.describe(self._execution(request))

    def _GetQueryResults(self, request):  # noqa: N802
        return self.twin.results(self._execution(request), request.get("MaxResults", 1000), request.get("NextToken"))

    def _StopQueryExecution(self, request):  # noqa: N802
        execution = self._execution(request)
        if execution.state in ("QUEUED", "RUNNING"):
            execution.state = "CANCELLED"
        return {}

    def _forward(self, body: bytes) -> None:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        request = urllib.request.Request(self.twin.moto + self.path, data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _reply(self, status: int, payload: dict) -> None:
        data = json.dumps(payload, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class AthenaServer:
    """The twin behind a real HTTP endpoint on 127.0.0.1 (``AWS_ENDPOINT_URL_ATHENA`` points boto3 at it)."""

    def __init__(self, moto: str):
        self.twin = AthenaTwin(moto)
        handler = type("Handler", (_Handler,), {"twin": self.twin})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> AthenaServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
