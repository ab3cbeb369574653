/** The `juki` command line. */
export { main } from './main.ts';
export type { Command, CommandContext } from './command.ts';
