/**
 * Recorded conformance with SimpleJWT (SPEC §2, §3): the requests of
 * requests.json, replayed on Latchkey, must be answered as the real SimpleJWT
 * answered them (golden/simplejwt.json, recorded by record.sh) — status, body
 * with tokens and times normalised, WWW-Authenticate, Allow, Location, and the
 * tokens' header and claim names and types — except for the differences chosen
 * in differences.json, each with its reason. Needs no Python.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { TEST_SIGNING_KEY, harness, manualClock, storeNames, type Harness } from '../support/harness.ts';
import {
  DIFFERENCES_MD_PATH,
  compare,
  encodeStep,
  loadDifferences,
  loadGolden,
  loadRequestSet,
  normalise,
  renderDifferences,
  resolveTemplates,
  type Answer,
  type Differences,
  type RawAnswer,
} from './conformance.ts';

const set = loadRequestSet();
const golden = loadGolden();
const table = loadDifferences();

/** Latchkey's answers to the request set, on a fresh database with the same users. */
async function replay(h: Harness, clock: ReturnType<typeof manualClock>): Promise<Record<string, Answer>> {
  const userIds: Record<string, number> = {};
  for (const user of set.users) {
    const created = await h.auth.createUser({ username: user.username, email: user.email, password: user.password, isActive: user.is_active ?? true });
    userIds[user.username] = created.id;
  }
  const raw = new Map<string, RawAnswer>();
  const answers: Record<string, Answer> = {};
  for (const step of set.steps) {
    if (step.wait) clock.advance(step.wait * 1000);
    const request = encodeStep(resolveTemplates(step, raw, TEST_SIGNING_KEY, Math.floor(clock.now() / 1000), userIds));
    const response = await h.app.inject({
      method: request.method as 'GET',
      url: request.path,
      headers: request.headers,
      ...(request.body !== undefined ? { payload: request.body } : {}),
    });
    const answer: RawAnswer = { status: response.statusCode, headers: response.headers, text: response.body };
    raw.set(step.id, answer);
    answers[step.id] = normalise(answer, userIds);
  }
  return answers;
}

const goldenAnswers = Object.fromEntries(Object.entries(golden.answers).map(([id, { request: _request, ...answer }]) => [id, answer]));

for (const name of storeNames()) {
  describe(`Latchkey answers as SimpleJWT ${golden.recorded_with['djangorestframework-simplejwt']} did (${name})`, () => {
    let h: Harness;
    let answers: Record<string, Answer>;
    before(async () => {
      const clock = manualClock(Date.now());
      // Latchkey's defaults, throttling included (the harness turns it off unless asked).
      h = await harness(name, { clock, env: { THROTTLE: 'on' } });
      answers = await replay(h, clock);
    });
    after(async () => h?.close());

    it('every recorded request, but for the chosen differences', (t) => {
      const { problems, identical } = compare(goldenAnswers, answers, table);
      if (process.env.CONFORMANCE_DUMP) console.log(JSON.stringify(answers, null, 1));
      assert.deepEqual(problems, []);
      t.diagnostic(`${identical} of ${set.steps.length} answers as SimpleJWT's, the others as the table chooses`);
    });

    it('the comparison fails when a chosen difference is taken out of the table', () => {
      for (const difference of table.differences) {
        const without: Differences = { ...table, differences: table.differences.filter((other) => other !== difference) };
        const { problems } = compare(goldenAnswers, answers, without);
        const steps = difference.cases.flatMap((c) => c.steps);
        assert.ok(problems.some((line) => steps.some((step) => line.startsWith(`step ${step}:`))), `without ${difference.id} the comparison still passes`);
      }
      assert.notDeepEqual(compare(goldenAnswers, answers, { ...table, rules: [] }).problems, [], 'without the error-code rule the comparison still passes');
    });
  });
}

describe('LOGIN_RESPONSE=minimal (pglite)', () => {
  it("gives SimpleJWT's login body exactly where the table says the full one differs", async () => {
    const clock = manualClock(Date.now());
    const h = await harness('pglite', { clock, env: { THROTTLE: 'on', LOGIN_RESPONSE: 'minimal' } });
    try {
      const answers = await replay(h, clock);
      const steps = table.differences.find((difference) => difference.id === 'richer-login-body')?.cases.flatMap((c) => c.steps) ?? [];
      assert.ok(steps.length > 0);
      for (const step of steps) assert.deepEqual(answers[step]?.body, goldenAnswers[step]?.body, step);
    } finally {
      await h.close();
    }
  });
});

describe('the table of chosen differences', () => {
  it('covers steps that exist, and differences.md is its rendering', () => {
    const steps = new Set(set.steps.map((step) => step.id));
    for (const difference of table.differences) for (const step of difference.cases.flatMap((c) => c.steps)) assert.ok(steps.has(step), `${difference.id}: unknown step ${step}`);
    assert.deepEqual(Object.keys(golden.answers), set.steps.map((step) => step.id), 'the goldens are of this request set: re-record with `bash test/conformance/record.sh`');
    assert.equal(readFileSync(DIFFERENCES_MD_PATH, 'utf8'), renderDifferences(table), 'differences.md is stale: node --import tsx test/conformance/render.ts');
  });

  it('a difference the table does not list fails the comparison, and so does one that no longer differs', () => {
    const answer: Answer = { status: 401, headers: { 'www-authenticate': 'Bearer realm="api"' }, body: { detail: 'Token is blacklisted', code: 'token_not_valid' } };
    const changed: Answer = { ...answer, body: { detail: 'Token is invalid or expired', code: 'token_not_valid' } };
    const empty: Differences = { about: '', rules: [], differences: [] };
    assert.deepEqual(compare({ s: answer }, { s: answer }, empty).problems, []);
    assert.equal(compare({ s: answer }, { s: changed }, empty).problems.length, 1);
    const chosen: Differences = { ...empty, differences: [{ id: 'd', reason: 'r', spec: '§3', cases: [{ steps: ['s'], latchkey: { body: changed.body } }] }] };
    assert.deepEqual(compare({ s: answer }, { s: changed }, chosen).problems, []);
    assert.match(compare({ s: answer }, { s: answer }, chosen).problems.join('\n'), /no longer differs/);
    assert.match(compare({ s: answer }, { s: { ...changed, status: 400 } }, chosen).problems.join('\n'), /status: expected 401/);
  });
});
