/** Every `juki` subcommand. Add a command by writing its file here and listing it below. */
import type { Command } from '../command.ts';
import { auditCheckpointCommand } from './audit-checkpoint.ts';
import { auditListCommand } from './audit-list.ts';
import { auditVerifyCommand } from './audit-verify.ts';
import { cardApduCommand } from './card-apdu.ts';
import { cardInfoCommand } from './card-info.ts';
import { cardNewCommand } from './card-new.ts';
import { cardVpcdCommand } from './card-vpcd.ts';
import { conformanceCommand } from './conformance.ts';
import { demoCardCommand } from './demo-card.ts';
import { jpkiRevokeCommand } from './jpki-revoke.ts';
import { netEnqueueCommand } from './net-enqueue.ts';
import { netPendingCommand } from './net-pending.ts';
import { pkiInitCommand } from './pki-init.ts';
import { pkiNatsConfigCommand } from './pki-nats-config.ts';
import { scenarioCommand } from './scenario.ts';
import { seedCommand } from './seed.ts';
import { serveCommand } from './serve.ts';
import { terminalCommand } from './terminal.ts';
import { upCommand } from './up.ts';

export const commands: readonly Command[] = [
  upCommand,
  serveCommand,
  terminalCommand,
  conformanceCommand,
  auditVerifyCommand,
  auditListCommand,
  auditCheckpointCommand,
  seedCommand,
  cardNewCommand,
  cardInfoCommand,
  cardApduCommand,
  cardVpcdCommand,
  demoCardCommand,
  jpkiRevokeCommand,
  pkiInitCommand,
  pkiNatsConfigCommand,
  netPendingCommand,
  netEnqueueCommand,
  scenarioCommand,
];
