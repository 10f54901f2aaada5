/** latchkey/client bundles into one ES module with no imports, loadable as it is by a browser or Node. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bundleClient } from '../../src/http/console.ts';

describe('the latchkey/client bundle', () => {
  it('is one ES module with no import left (no node:, no package) and exports the client', async () => {
    const code = await bundleClient();
    assert.doesNotMatch(code, /^\s*import\s/m);
    assert.doesNotMatch(code, /\bnode:|require\(/);
    const module = (await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)) as Record<string, unknown>;
    for (const name of ['LatchkeyClient', 'LatchkeyError', 'memoryStorage', 'localStorageStorage', 'axiosInterceptor', 'AUDIT_EVENT_TYPES']) {
      assert.ok(name in module, name);
    }
  });
});
