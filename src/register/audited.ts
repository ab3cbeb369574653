/**
 * Wiring the register to the node's audit log: every register change appends its audit entry
 * in the change's own transaction, so the change and its record commit together or not at all.
 */
import type { Actor, AuditLog } from '../audit/index.ts';
import type { RegisterChangeHook } from './register.ts';

/**
 * An `onChange` hook that audits each change as done by `actor()` (who is acting now: the
 * signed-in clerk, or `system` for the command line). Chain it with other hooks via `both`.
 */
export function auditRegisterChanges(log: AuditLog, actor: () => Actor): RegisterChangeHook {
  return async (change, trx) => {
    const subject = { kind: 'resident' as const, id: change.residentCode };
    switch (change.reason) {
      case 'birth':
      case 'entry':
        await log.append(trx, { type: 'resident.registered', actor: actor(), subject, details: { municipality: change.municipality, cause: change.reason } });
        return;
      case 'move-in':
      case 'move-out':
      case 'move-within':
        await log.append(trx, {
          type: 'resident.moved',
          actor: actor(),
          subject,
          details: {
            direction: change.reason,
            municipality: change.municipality,
            // Municipality codes only: addresses are personal data and stay in the register.
            ...(change.reason === 'move-in' && change.otherMunicipality ? { from: change.otherMunicipality } : {}),
            ...(change.reason === 'move-out' && change.otherMunicipality ? { to: change.otherMunicipality } : {}),
          },
        });
        return;
      case 'death':
        await log.append(trx, { type: 'resident.removed', actor: actor(), subject, details: { cause: 'death' } });
        return;
    }
  };
}

/** Run several hooks in order in the same transaction. */
export function both(...hooks: RegisterChangeHook[]): RegisterChangeHook {
  return async (change, trx) => {
    for (const h of hooks) await h(change, trx);
  };
}
