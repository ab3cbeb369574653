/**
 * The municipality's side of identity-record changes: a register `onChange` hook that writes an
 * `identity.changed` message to the outbox, for the prefecture (which records it and forwards
 * it to the national center), in the register change's own transaction. Chain it with the
 * audit hook: `both(auditRegisterChanges(...), identityChangesTo(outbox, ...))`.
 */
import type { RegisterChangeHook } from '../../register/index.ts';
import type { Outbox } from '../outbox.ts';
import type { Trx } from './records.ts';

export function identityChangesTo(outbox: Outbox<Trx>, from: string, prefecture: string): RegisterChangeHook {
  return async (change, trx) => {
    await outbox.enqueue(trx, {
      type: 'identity.changed', from, to: prefecture,
      // The history row's number orders one municipality's versions of a record.
      body: { residentCode: change.residentCode, municipality: change.municipality, version: change.seq, record: change.record },
    });
  };
}
