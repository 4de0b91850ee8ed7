#!/usr/bin/env python3
"""Run an AWS Lambda Python handler, unmodified, as a local process.

rdsemu's rotation runner starts a registered "Lambda" as a child process and
gives it the invocation event on stdin (and in RDSEMU_LAMBDA_EVENT).  This
shim turns that into the call the Lambda Python runtime would make:

    python3 scripts/lambda_shim.py path/to/lambda_function.py[:lambda_handler]

It imports the file as a module (its directory first on sys.path, so
sibling modules import as they would in the deployment package), calls
handler(event, context) with a minimal context object, prints a JSON result
if the handler returns one, and exits 0.  On an exception it prints the
traceback to stderr and exits 1, which the runner records as a failed step.
"""

import importlib.util
import json
import os
import sys
import time
import traceback
import uuid


class LambdaContext:
    """The subset of the Lambda context object that handlers commonly use."""

    def __init__(self, name, arn, timeout_s):
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = arn
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = "/aws/lambda/" + name
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(spec):
    path, _, attr = spec.partition(":")
    attr = attr or "lambda_handler"
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise SystemExit("lambda_shim: no such file: %s" % path)
    sys.path.insert(0, os.path.dirname(path))
    name = os.path.splitext(os.path.basename(path))[0]
    mod_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(mod_spec)
    sys.modules[name] = module
    mod_spec.loader.exec_module(module)
    handler = getattr(module, attr, None)
    if not callable(handler):
        raise SystemExit("lambda_shim: %s has no callable %s" % (path, attr))
    return handler


def read_event():
    raw = ""
    if not sys.stdin.isatty():
        raw = sys.stdin.read()
    if not raw.strip():
        raw = os.environ.get("RDSEMU_LAMBDA_EVENT", "")
    if not raw.strip():
        return {}
    return json.loads(raw)


def main(argv):
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        handler = load_handler(argv[1])
        event = read_event()
        arn = os.environ.get("RDSEMU_LAMBDA_ARN", "arn:aws:lambda:%s:000000000000:function:local" %
                             os.environ.get("AWS_REGION", "us-east-1"))
        name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", arn.split(":")[-1])
        timeout = float(os.environ.get("RDSEMU_LAMBDA_TIMEOUT", "30"))
        result = handler(event, LambdaContext(name, arn, timeout))
    except SystemExit:
        raise
    except BaseException:  # the handler's failure is the step's failure
        traceback.print_exc()
        return 1
    if result is not None:
        try:
            print(json.dumps(result, default=str))
        except (TypeError, ValueError):
            print(repr(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
