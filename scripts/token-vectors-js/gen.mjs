// RDS IAM auth tokens from the AWS SDK for JavaScript v3 signer
// (@aws-sdk/rds-signer, version pinned in package.json), for rdsemu's
// fixtures/tokens/sdk_js_v3.json.
//
// Input: a JSON array of cases on stdin (or in the file named by the first
// argument), each {name, description, host, port, user, region,
// access_key_id, secret_access_key, session_token|null, epoch}.
// Output: {"generator": ..., "vectors": [case + {token}]} on stdout.
//
// The clock is frozen per case by replacing the global Date: the signer
// takes `signingDate = new Date()` when it presigns.  Credentials are given
// as a static object, so no provider chain (and no network) is involved.
//
// Usually run by scripts/gen_token_vectors.py; by hand:
//   cd scripts/token-vectors-js && npm ci && node gen.mjs cases.json
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Signer } from "@aws-sdk/rds-signer";

const require = createRequire(import.meta.url);
const signerVersion = require("@aws-sdk/rds-signer/package.json").version;

const RealDate = Date;
let frozenMs = 0;
class FrozenDate extends RealDate {
	constructor(...args) {
		if (args.length === 0) super(frozenMs);
		else super(...args);
	}
	static now() {
		return frozenMs;
	}
}
globalThis.Date = FrozenDate;

const input = readFileSync(process.argv[2] ?? 0, "utf8");
const cases = JSON.parse(input);
const vectors = [];
for (const c of cases) {
	frozenMs = c.epoch * 1000;
	const credentials = { accessKeyId: c.access_key_id, secretAccessKey: c.secret_access_key };
	if (c.session_token) credentials.sessionToken = c.session_token;
	const signer = new Signer({ hostname: c.host, port: c.port, username: c.user, region: c.region, credentials });
	const token = await signer.getAuthToken();
	vectors.push({ ...c, token });
}
process.stdout.write(
	JSON.stringify({ generator: `@aws-sdk/rds-signer ${signerVersion} (node ${process.version})`, vectors }, null, 2) +
		"\n",
);
