#!/usr/bin/env python3
"""Writes a wrk Lua script that replays one SigV4-signed GetSecretValue.

The request is signed by botocore now, with the given credentials, so it is
exactly what an SDK sends; the server verifies the signature on every replay
(the JSON APIs accept a signature for 5 minutes, which covers one run).
Usage: wrk_request.py ENDPOINT SECRET_ID OUT.lua [ACCESS_KEY SECRET_KEY REGION]
(AWS_SESSION_TOKEN in the environment signs with temporary credentials.)
"""
import json
import os
import sys

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

endpoint, secret_id, out = sys.argv[1:4]
ak, sk, region = (sys.argv[4:7] + ["test", "test", "us-east-1"][len(sys.argv[4:7]):])
body = json.dumps({"SecretId": secret_id})
req = AWSRequest(method="POST", url=endpoint + "/", data=body,
                 headers={"Content-Type": "application/x-amz-json-1.1",
                          "X-Amz-Target": "secretsmanager.GetSecretValue"})
SigV4Auth(Credentials(ak, sk, os.environ.get("AWS_SESSION_TOKEN") or None), "secretsmanager", region).add_auth(req)


def lua(s):
    return json.dumps(s)  # a JSON string literal is a valid Lua string literal here


with open(out, "w") as f:
    f.write("wrk.method = \"POST\"\n")
    f.write("wrk.body = %s\n" % lua(body))
    for k, v in req.headers.items():
        if k.lower() == "host":
            continue
        f.write("wrk.headers[%s] = %s\n" % (lua(k), lua(v)))
    f.write("wrk.headers[\"Host\"] = %s\n" % lua(endpoint.split("://", 1)[1]))
    # Count non-200 answers so a broken signature cannot pass for speed.
    f.write("""
local bad = 0
response = function(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("NON200 %d\\n", summary.errors.status))
end
""")
