import { describe, expect, it } from 'vitest';
import type { Canary } from '../../src/config/types.js';
import { canariesFor, encodeCanaries, evaluateCanary, missingCanaries, parseCanaryTimestamp } from '../../src/judges/database.js';

const fresh: Canary = { name: 'orders fresh', engine: 'postgresql', database: 'shop', query: 'select max(created_at) from orders', freshWithinMs: 26 * 3600_000 };
const count: Canary = { name: 'orders count', engine: 'sqlite', path: '/srv/app/data/app.db', query: 'select count(*) from orders', atLeast: 1000 };
const START = '2026-11-20T03:00:00Z';

describe('canaries', () => {
  it('reads PostgreSQL, MariaDB and SQLite timestamp spellings; naive ones as UTC', () => {
    expect(parseCanaryTimestamp('2026-11-20 02:00:00')).toBe(Date.parse('2026-11-20T02:00:00Z'));
    expect(parseCanaryTimestamp('2026-11-20 02:00:00+00')).toBe(Date.parse('2026-11-20T02:00:00Z'));
    expect(parseCanaryTimestamp('2026-11-20 04:00:00+02')).toBe(Date.parse('2026-11-20T02:00:00Z'));
    expect(parseCanaryTimestamp('2026-11-20T02:00:00.123Z')).toBe(Date.parse('2026-11-20T02:00:00.123Z'));
  });

  it('passes fresh data within the RPO of the snapshot start', () => {
    const r = evaluateCanary(fresh, '/var/lib/postgresql/15/main', { exitCode: 0, output: '2026-11-20 02:00:00' }, START);
    expect(r).toMatchObject({ pass: true, value: '2026-11-20 02:00:00', detail: 'as expected' });
  });

  it('fails stale data and says how stale', () => {
    const r = evaluateCanary(fresh, '/d', { exitCode: 0, output: '2026-11-16 02:00:00' }, START);
    expect(r.pass).toBe(false);
    expect(r.detail).toBe('newest data is 4d01h older than the snapshot (RPO 26h00m)');
  });

  it('fails a count below the minimum, a non-number, an empty answer and a failed query', () => {
    expect(evaluateCanary(count, '/x', { exitCode: 0, output: '999' }, START)).toMatchObject({ pass: false, detail: '999 is below 1000' });
    expect(evaluateCanary(count, '/x', { exitCode: 0, output: 'many' }, START).detail).toBe('"many" is not a number');
    expect(evaluateCanary(count, '/x', { exitCode: 0, output: '' }, START).detail).toBe('the query returned no value');
    expect(evaluateCanary(count, '/x', { exitCode: 1, output: 'Error: no such table: orders' }, START).detail).toBe('the query failed: Error: no such table: orders');
    expect(evaluateCanary(count, '/x', undefined, START).pass).toBe(false);
  });

  it('applies by engine and optional path', () => {
    expect(canariesFor([fresh, count], { engine: 'sqlite', path: '/srv/app/data/app.db', filesystem: 'disk' })).toEqual([count]);
    expect(canariesFor([fresh, count], { engine: 'sqlite', path: '/other.db', filesystem: 'disk' })).toEqual([]);
  });

  it('fails a canary whose match says the snapshot must hold its database when none was found', () => {
    const required: Canary = { ...fresh, match: { tags: { role: 'db' } } };
    expect(missingCanaries([required], [], { role: 'db' })).toMatchObject([{ name: 'orders fresh', path: null, pass: false }]);
    expect(missingCanaries([required], [], { role: 'web' })).toEqual([]);
    expect(missingCanaries([required], [{ engine: 'postgresql', path: '/d', filesystem: 'disk' }], { role: 'db' })).toEqual([]);
  });

  it('encodes canaries so any query text survives the trip to a shell script', () => {
    const q: Canary = { name: 'tricky', engine: 'sqlite', query: "select 'a:b\tc\nd' -- ;$(rm -rf /)", equals: 'x' };
    const text = encodeCanaries([q, count]);
    const [line] = text.split('\n');
    const [n, db, query] = line!.split(':').map((f) => Buffer.from(f, 'base64').toString('utf8'));
    expect([n, db, query]).toEqual(['tricky', '', q.query]);
  });
});
