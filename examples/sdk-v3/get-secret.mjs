// Reads a secret through rdsemu with the unmodified AWS SDK for JavaScript v3.
// The endpoint comes from AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_SECRETS_MANAGER),
// credentials and region from the usual AWS_* variables, as in production.
//   node get-secret.mjs rdsemu/patternB/app
import { SecretsManagerClient, GetSecretValueCommand, DescribeSecretCommand } from "@aws-sdk/client-secrets-manager";

const id = process.argv[2] ?? "rdsemu/patternB/app";
const client = new SecretsManagerClient({});
try {
  const d = await client.send(new DescribeSecretCommand({ SecretId: id }));
  const v = await client.send(new GetSecretValueCommand({ SecretId: id }));
  console.log(JSON.stringify({
    ARN: v.ARN, Name: v.Name, VersionId: v.VersionId, VersionStages: v.VersionStages,
    CreatedDate: v.CreatedDate.toISOString(), SecretKeys: Object.keys(JSON.parse(v.SecretString ?? "{}")),
    VersionIdsToStages: d.VersionIdsToStages,
  }));
} catch (e) {
  console.log(JSON.stringify({ error: e.name, message: e.message, status: e.$metadata?.httpStatusCode }));
  process.exitCode = 3;
}
