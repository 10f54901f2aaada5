import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DOMAIN_ERRORS, HTTP_ERRORS } from '../../src/http/errors.ts';

const SPEC = new URL('../../../shared/SPEC.md', import.meta.url);

/** The rows of SPEC.md's error table: code → { status, detail (when the SPEC gives it whole) }. */
function specErrorTable(text: string): Map<string, { status: number; detail: string | undefined }> {
  const rows = new Map<string, { status: number; detail: string | undefined }>();
  for (const line of text.split('\n')) {
    const match = /^\|[^|]+\|\s*(\d{3})[^|]*\|\s*`(\{.*\})`\s*\|$/.exec(line.trim());
    if (!match) continue;
    const body = match[2]!;
    const code = /"code":\s*"([a-z_]+)"/.exec(body)?.[1];
    if (!code) continue;
    const detail = /"detail":\s*"((?:[^"\\]|\\.)*)"/.exec(body)?.[1];
    // `…` and a bare `N` (a number filled in per answer) mark a detail the SPEC does not give whole.
    rows.set(code, { status: Number(match[1]), detail: detail && !detail.includes('…') && !/\bN\b/.test(detail) ? detail : undefined });
  }
  return rows;
}

describe('the error registry', () => {
  it('matches every row of SPEC.md’s error table that Latchkey raises, status and message', (t) => {
    if (!existsSync(SPEC)) {
      // CI lays shared/ beside the clone: there a missing SPEC is a failure, never a skip.
      if (process.env.CI) assert.fail(`CI must find the SPEC at ${SPEC.pathname}`);
      t.skip('../shared/SPEC.md is not beside this checkout');
      return;
    }
    const spec = specErrorTable(readFileSync(SPEC, 'utf8'));
    assert.ok(spec.size >= 8, `read ${spec.size} rows from the SPEC's error table`);
    const ours: Record<string, { status: number; detail: string }> = { ...DOMAIN_ERRORS, ...HTTP_ERRORS };
    const checked: string[] = [];
    for (const [code, row] of spec) {
      const wire = ours[code];
      if (!wire) continue; // raised by a later capability (throttling, cookies, tenants)
      checked.push(code);
      assert.equal(wire.status, row.status, `${code} status`);
      if (row.detail !== undefined) assert.equal(wire.detail, row.detail, `${code} detail`);
    }
    for (const code of ['no_active_account', 'token_not_valid', 'not_authenticated', 'permission_denied', 'service_unavailable', 'parse_error', 'unsupported_media_type']) {
      assert.ok(checked.includes(code), `${code} is in both the SPEC and the registry`);
    }
  });

  it('gives every code one status and a non-empty message', () => {
    for (const [code, wire] of Object.entries({ ...DOMAIN_ERRORS, ...HTTP_ERRORS })) {
      assert.ok(wire.status >= 400 && wire.status < 600, code);
      assert.ok(wire.detail.length > 0, code);
    }
  });
});
