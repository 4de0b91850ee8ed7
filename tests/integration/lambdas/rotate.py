#!/usr/bin/env python3
"""A rotation "Lambda" for the integration tests: a local executable that reads one Lambda event
from stdin, as rdsemu invokes rotation functions.  It follows the steps of AWS's single-user
rotation templates (aws-behaviour.md 5.7) without a database, and appends every event it receives
to $ROTATION_LOG (one JSON object per line) so tests can check the order and contents of the calls.

Environment: SECRETS_MANAGER_ENDPOINT (as the AWS templates use), AWS credentials and region,
ROTATION_LOG, ROTATION_FAIL_STEP (exit 1 at that step).
"""
import json
import os
import sys

import boto3
from botocore.config import Config


def main():
    event = json.load(sys.stdin)
    log = os.environ.get("ROTATION_LOG")
    if log:
        with open(log, "a") as f:
            f.write(json.dumps(event) + "\n")
    step, arn, token = event["Step"], event["SecretId"], event["ClientRequestToken"]
    if os.environ.get("ROTATION_FAIL_STEP") == step:
        print(f"failing on purpose at {step}", file=sys.stderr)
        return 1
    endpoint = os.environ.get("SECRETS_MANAGER_ENDPOINT") or os.environ.get("AWS_ENDPOINT_URL_SECRETS_MANAGER") \
        or os.environ.get("AWS_ENDPOINT_URL")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or arn.split(":")[3]
    sm = boto3.client("secretsmanager", endpoint_url=endpoint, region_name=region,
                      config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))

    meta = sm.describe_secret(SecretId=arn)
    if not meta.get("RotationEnabled"):
        raise SystemExit(f"rotation not enabled for {arn}")
    versions = meta.get("VersionIdsToStages", {})
    if token not in versions:
        raise SystemExit(f"version {token} has no stage for rotation of {arn}")
    if "AWSCURRENT" in versions[token]:
        return 0
    if "AWSPENDING" not in versions[token]:
        raise SystemExit(f"version {token} not set as AWSPENDING for rotation of {arn}")

    if step == "createSecret":
        current = json.loads(sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])
        try:
            sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        except sm.exceptions.ResourceNotFoundException:
            current["password"] = sm.get_random_password(ExcludeCharacters="/@\"'\\")["RandomPassword"]
            sm.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=json.dumps(current),
                                VersionStages=["AWSPENDING"])
    elif step in ("setSecret", "testSecret"):
        try:
            json.loads(sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")["SecretString"])
        except sm.exceptions.ResourceNotFoundException:
            if step == "setSecret":
                raise
    elif step == "finishSecret":
        current = None
        for v, stages in versions.items():
            if "AWSCURRENT" in stages:
                current = v
        sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token,
                                       RemoveFromVersionId=current)
    else:
        raise SystemExit(f"unknown step {step}")
    print("null")
    return 0


if __name__ == "__main__":
    sys.exit(main())
