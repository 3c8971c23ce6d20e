// Runs graphql-http's GraphQL-over-HTTP server audits against one URL and prints a JSON summary on stdout:
// {"counts": {"ok": n, "warn": n, "error": n}, "audits": [{"id", "name", "status", "reason"}, ...]}.
// Usage: node scripts/graphql-audit/audit.mjs http://127.0.0.1:8000/graphql
// (the packages come from `npm ci --prefix scripts/graphql-audit`; tests/test_graphql_http_audit.py runs this).
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs URL');
  process.exit(2);
}

const audits = [];
for (const audit of serverAudits({ url, fetchFn: fetch })) {
  const result = await audit.fn();
  audits.push({ id: audit.id, name: audit.name, status: result.status, reason: result.reason ?? null });
}
const counts = { ok: 0, warn: 0, error: 0 };
for (const audit of audits) counts[audit.status] += 1;
console.log(JSON.stringify({ counts, audits }));
