/** Every `juki` subcommand. Add a command by writing its file here and listing it below. */
import type { Command } from '../command.ts';
import { conformanceCommand } from './conformance.ts';

export const commands: readonly Command[] = [
  conformanceCommand,
];
