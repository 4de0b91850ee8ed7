"""Single-user rotation function for a JSON secret, for use with rdsemu.

It follows the structure of AWS's rotation templates: one handler, four
steps (createSecret, setSecret, testSecret, finishSecret), every step first
checking with DescribeSecret that rotation is enabled and that the token is
the AWSPENDING version.  It needs no database: setSecret and testSecret only
log what a real function would do (change the password on the server, then
log in with it).

The secret value is a JSON object; rotation replaces its "password" member
(other members are kept).  Environment variables:
  SECRETS_MANAGER_ENDPOINT  endpoint of Secrets Manager (set by rdsemu)
  EXCLUDE_CHARACTERS        characters the new password must not contain
                            (default: / @ " ' \\ and space)
  PASSWORD_LENGTH           length of the new password (default 32)

Run locally through the shim:
  python3 scripts/lambda_shim.py examples/rotation/lambda_function.py
"""

import json
import logging
import os

import boto3

logger = logging.getLogger()
if not logger.handlers:
    logging.basicConfig(format="%(levelname)s %(message)s")
logger.setLevel(logging.INFO)

CURRENT, PENDING = "AWSCURRENT", "AWSPENDING"


def lambda_handler(event, context):
    arn = event["SecretId"]
    token = event["ClientRequestToken"]
    step = event["Step"]

    client = boto3.client("secretsmanager", endpoint_url=os.environ.get("SECRETS_MANAGER_ENDPOINT"))

    metadata = client.describe_secret(SecretId=arn)
    if not metadata.get("RotationEnabled"):
        raise ValueError("Secret %s is not enabled for rotation" % arn)
    versions = metadata.get("VersionIdsToStages", {})
    if token not in versions:
        raise ValueError("Secret version %s has no stage for rotation of secret %s" % (token, arn))
    if CURRENT in versions[token]:
        logger.info("Secret version %s already set as AWSCURRENT for secret %s", token, arn)
        return
    if PENDING not in versions[token]:
        raise ValueError("Secret version %s not set as AWSPENDING for rotation of secret %s" % (token, arn))

    steps = {
        "createSecret": create_secret,
        "setSecret": set_secret,
        "testSecret": test_secret,
        "finishSecret": finish_secret,
    }
    if step not in steps:
        raise ValueError("Invalid step parameter %s" % step)
    steps[step](client, arn, token)


def create_secret(client, arn, token):
    """Store a new value under AWSPENDING, unless an earlier attempt did."""
    current = json.loads(client.get_secret_value(SecretId=arn, VersionStage=CURRENT)["SecretString"])
    try:
        client.get_secret_value(SecretId=arn, VersionId=token, VersionStage=PENDING)
        logger.info("createSecret: pending version %s of %s already has a value", token, arn)
        return
    except client.exceptions.ResourceNotFoundException:
        pass
    exclude = os.environ.get("EXCLUDE_CHARACTERS", "/@\"'\\ ")
    length = int(os.environ.get("PASSWORD_LENGTH", "32"))
    password = client.get_random_password(ExcludeCharacters=exclude, PasswordLength=length)["RandomPassword"]
    pending = dict(current)
    pending["password"] = password
    client.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=json.dumps(pending),
                            VersionStages=[PENDING])
    logger.info("createSecret: stored a new value for version %s of %s", token, arn)


def set_secret(client, arn, token):
    """A database rotation would run ALTER USER ... PASSWORD here."""
    pending = json.loads(client.get_secret_value(SecretId=arn, VersionId=token, VersionStage=PENDING)["SecretString"])
    logger.info("setSecret: no database to update for user %s of %s (example function)",
                pending.get("username", "?"), arn)


def test_secret(client, arn, token):
    """A database rotation would log in with the pending password here."""
    try:
        value = client.get_secret_value(SecretId=arn, VersionId=token, VersionStage=PENDING)
    except client.exceptions.ResourceNotFoundException:
        # RotateImmediately=false runs testSecret on a version without a value.
        logger.info("testSecret: version %s of %s has no value yet; nothing to test", token, arn)
        return
    pending = json.loads(value["SecretString"])
    if not pending.get("password"):
        raise ValueError("testSecret: the pending value of %s has no password" % arn)
    logger.info("testSecret: pending value of %s is well formed", arn)


def finish_secret(client, arn, token):
    """Move AWSCURRENT to the pending version."""
    metadata = client.describe_secret(SecretId=arn)
    current = None
    for version, stages in metadata["VersionIdsToStages"].items():
        if CURRENT in stages:
            if version == token:
                logger.info("finishSecret: version %s already marked as AWSCURRENT for %s", version, arn)
                return
            current = version
            break
    client.update_secret_version_stage(SecretId=arn, VersionStage=CURRENT, MoveToVersionId=token,
                                       RemoveFromVersionId=current)
    logger.info("finishSecret: moved AWSCURRENT to version %s of %s", token, arn)
