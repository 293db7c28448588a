// The fault suite's count of a scenario's requests (load.ts): a request in flight when the fault
// hit started before the scenario began, and its failure is the scenario's.
import assert from 'node:assert/strict';
import { summarize, type RequestRecord } from './load';

describe('chaos: a scenario counts the requests in flight at its fault', () => {
  it('counts a request that started before the scenario and failed during it; not one that ended before', () => {
    const from = 10_000;
    const records: RequestRecord[] = [
      { startedAt: 9_000, endedAt: 9_500, outcome: 502 }, // the previous scenario's
      { startedAt: 9_900, endedAt: 12_000, outcome: 502, message: 'kas: the tunnel to the agent closed early' }, // in flight at the fault
      { startedAt: 10_100, endedAt: 10_200, outcome: 200 },
      { startedAt: 10_300, endedAt: 31_000, outcome: 504 },
      { startedAt: 40_000, endedAt: 40_100, outcome: 200 }, // after the scenario
    ];
    const summary = summarize(records, from, 35_000, 10_000);
    assert.equal(summary.sent, 3);
    assert.deepEqual(summary.failedByOutcome, { '502': 1, '504': 1 });
    assert.deepEqual(summary.failedByMessage, { '502: kas: the tunnel to the agent closed early': 1 });
    assert.equal(summary.maxLatencyMs, 20_700);
  });
});
