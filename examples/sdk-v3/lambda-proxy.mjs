// A Lambda function's way to its database through RDS Proxy, run on a laptop against rdsemu with
// unmodified npm packages (@aws-sdk/rds-signer, @aws-sdk/client-secrets-manager, pg):
//   pattern A, an IAM token as the password:
//     node lambda-proxy.mjs iam HOST PORT USER DATABASE CA_FILE
//   pattern B, the password from Secrets Manager (the secret's username and password):
//     node lambda-proxy.mjs secret HOST PORT SECRET_ID DATABASE CA_FILE
// Both verify the proxy's certificate against CA_FILE (GET /_rdsemu/ca.pem) and the host name, as
// a Lambda verifies the real proxy against the Amazon roots.  The "handler" runs a parameterized
// query and a transaction, then prints one JSON line:
//   {"user": ..., "sum": ..., "tls": true, "rows": ...}
// The AWS clients read AWS_ENDPOINT_URL, AWS_REGION and the keys from the environment.
import { readFileSync } from "node:fs";
import { Signer } from "@aws-sdk/rds-signer";
import { SecretsManagerClient, GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import pg from "pg";

const [mode, host, portText, who, database, caFile] = process.argv.slice(2);
const port = Number(portText);
const region = process.env.AWS_REGION ?? "us-east-1";

async function credentials() {
	if (mode === "iam") {
		const signer = new Signer({ hostname: host, port, username: who, region });
		return { user: who, password: await signer.getAuthToken() };
	}
	const sm = new SecretsManagerClient({ region });
	const out = await sm.send(new GetSecretValueCommand({ SecretId: who }));
	const secret = JSON.parse(out.SecretString);
	return { user: secret.username, password: secret.password };
}

async function handler() {
	const { user, password } = await credentials();
	const client = new pg.Client({
		host, port, database, user, password,
		ssl: { ca: readFileSync(caFile, "utf8"), rejectUnauthorized: true },
		connectionTimeoutMillis: 10000,
	});
	await client.connect();
	try {
		const a = await client.query("select current_user as user, $1::int + $2::int as sum", [40, 2]);
		await client.query("begin");
		const c = await client.query("select count(*)::int as rows from generate_series(1, $1::int)", [3]);
		await client.query("commit");
		return { user: a.rows[0].user, sum: a.rows[0].sum, tls: client.connection.stream.encrypted === true,
		         rows: c.rows[0].rows };
	} finally {
		await client.end();
	}
}

try {
	console.log(JSON.stringify(await handler()));
} catch (e) {
	console.log(JSON.stringify({ error: e.message, code: e.code ?? null }));
	process.exitCode = 1;
}
