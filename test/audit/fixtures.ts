/** Shared helpers for the audit tests: a log with a deterministic clock, and sample events. */
import type { Database } from '../../src/db/index.ts';
import { AuditLog, type AuditEventInput } from '../../src/audit/index.ts';

/** A clock that ticks one second per call from 2025-04-01T00:00:00Z. */
export function tickingClock(): () => Date {
  let t = Date.UTC(2025, 3, 1);
  return () => new Date((t += 1000));
}

export function testLog(database: Database, node = 'municipality-131016'): AuditLog {
  return new AuditLog(database, node, { now: tickingClock() });
}

/** A valid event, varied by `i`. */
export function sampleEvent(i: number): AuditEventInput {
  switch (i % 3) {
    case 0:
      return {
        type: 'resident.registered',
        actor: { kind: 'staff', id: `S${1000 + i}` },
        subject: { kind: 'resident', id: String(10000000000 + i) },
        details: { municipality: '131016', cause: 'birth' },
      };
    case 1:
      return {
        type: 'resident.moved',
        actor: { kind: 'staff', id: 'S0042' },
        subject: { kind: 'resident', id: String(20000000000 + i) },
        details: { direction: 'in', municipality: '131016', from: '271004' },
      };
    default:
      return {
        type: 'resident.removed',
        actor: { kind: 'system' },
        subject: { kind: 'resident', id: String(30000000000 + i) },
        outcome: 'refused',
        reason: 'JUKI_ERR_RESIDENT_NOT_REGISTERED',
        details: { cause: 'death' },
      };
  }
}

/** Append `n` sample events, one transaction each. */
export async function appendSamples(log: AuditLog, n: number, from = 0): Promise<void> {
  for (let i = from; i < from + n; i++) await log.record(sampleEvent(i));
}
