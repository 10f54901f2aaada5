import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { manualClock } from '../../src/clock.ts';
import { cutoffsOf, sessionIdsOf } from '../../src/sessions/feeds.ts';
import { RevocationList } from '../../src/sessions/revocation.ts';

describe('cut-offs for tokens without a session', () => {
  it('void a user\'s tokens issued up to the cut-off, to the second; later ones and other users\' stand', () => {
    const list = new RevocationList(manualClock(0), 60_000);
    list.cutOff([['7', 1_000_500]]);
    assert.equal(list.isCutOff(7, 1000), true, 'issued in the same second, before: void');
    assert.equal(list.isCutOff(7, 999), true);
    assert.equal(list.isCutOff(7, 1001), false);
    assert.equal(list.isCutOff(8, 999), false);
  });

  it('only move forward, and `*` voids everyone', () => {
    const list = new RevocationList(manualClock(0), 60_000);
    list.cutOff([['7', 2_000_000]]);
    list.cutOff([['7', 1_000_000]]);
    assert.equal(list.isCutOff(7, 1500), true, 'an older cut-off heard later does not undo a newer one');
    list.cutOff([['*', 3_000_000]]);
    assert.equal(list.isCutOff(8, 2999), true);
    assert.equal(list.isCutOff(8, 3001), false);
  });

  it('travel as an optional key of the notification payload; older payloads and malformed ones name none', () => {
    const payload = JSON.stringify({ sessions: ['a'], cutoffs: [['7', 1000], ['*', 2000]] });
    assert.deepEqual(cutoffsOf(payload), [['7', 1000], ['*', 2000]]);
    assert.deepEqual(sessionIdsOf(payload), ['a'], 'the session ids read as before');
    assert.deepEqual(cutoffsOf(JSON.stringify({ sessions: ['a'] })), []);
    for (const bad of ['nope', '{"cutoffs": 3}', '{"cutoffs": [[7, 1000], ["7", "x"], ["7"]]}', 'null']) assert.deepEqual(cutoffsOf(bad), [], bad);
  });
});
