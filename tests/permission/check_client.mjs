// Runs Backstage's own PermissionClient (@backstage/plugin-permission-common) against a
// running permission plugin. Reads a plan from stdin: {"baseUrl", "calls": [{"method":
// "authorize" | "authorizeConditional", "token", "batched"?, "enabled"?, "requests": [...]}]}
// and prints one JSON line {"results": [...]}, one entry per call: the client's answer, or
// {"error": name, "status", "bodyMessage"} when it threw (a ResponseError's status and
// the message of Backstage's error body).
import { ConfigReader } from '@backstage/config';
import { PermissionClient } from '@backstage/plugin-permission-common';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const plan = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const discovery = { getBaseUrl: async () => plan.baseUrl };

const results = [];
for (const call of plan.calls) {
  const config = new ConfigReader({
    permission: {
      enabled: call.enabled ?? true,
      EXPERIMENTAL_enableBatchedRequests: call.batched ?? false,
    },
  });
  const client = new PermissionClient({ discovery, config });
  try {
    results.push(await client[call.method](call.requests, { token: call.token }));
  } catch (error) {
    results.push({
      error: error.name,
      status: error.response?.status,
      bodyMessage: error.body?.error?.message,
    });
  }
}
process.stdout.write(`${JSON.stringify({ results })}\n`);
