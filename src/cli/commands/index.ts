/** Every `juki` subcommand. Add a command by writing its file here and listing it below. */
import type { Command } from '../command.ts';
import { auditCheckpointCommand } from './audit-checkpoint.ts';
import { auditListCommand } from './audit-list.ts';
import { auditVerifyCommand } from './audit-verify.ts';
import { conformanceCommand } from './conformance.ts';
import { netEnqueueCommand } from './net-enqueue.ts';
import { netPendingCommand } from './net-pending.ts';
import { pkiInitCommand } from './pki-init.ts';
import { seedCommand } from './seed.ts';
import { serveCommand } from './serve.ts';
import { upCommand } from './up.ts';

export const commands: readonly Command[] = [
  upCommand,
  serveCommand,
  conformanceCommand,
  auditVerifyCommand,
  auditListCommand,
  auditCheckpointCommand,
  seedCommand,
  pkiInitCommand,
  netPendingCommand,
  netEnqueueCommand,
];
