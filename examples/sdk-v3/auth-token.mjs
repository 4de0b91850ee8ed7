// Prints an RDS IAM auth token made by the AWS SDK for JavaScript v3 signer,
// exactly as a Lambda function would before connecting to a proxy:
//   node auth-token.mjs HOST PORT USER
import { Signer } from "@aws-sdk/rds-signer";

const [hostname, port, username] = process.argv.slice(2);
const signer = new Signer({ hostname, port: Number(port), username, region: process.env.AWS_REGION ?? "us-east-1" });
console.log(await signer.getAuthToken());
