/** What every `juki` subcommand declares, so main.ts can parse, help and dispatch uniformly. */
import type { ParseArgsConfig } from 'node:util';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface CommandContext {
  /** Parsed options, keyed by long name. */
  readonly values: Record<string, string | boolean | string[] | undefined>;
  readonly positionals: string[];
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

export interface Command {
  /** Words after `juki`, e.g. `['audit', 'verify']`. */
  readonly path: readonly string[];
  /** One line for the command list. */
  readonly summary: string;
  /** Full `--help` text after the usage line. */
  readonly help: string;
  /** Usage synopsis without the leading `juki ...` words, e.g. `--card FILE HEX...`. */
  readonly usage: string;
  readonly options: OptionSpec;
  /** How many positionals are allowed: [min, max]. Default [0, 0]. */
  readonly positionals?: readonly [number, number];
  /** Returns the exit code. Throws JukiError for refusals. */
  run(ctx: CommandContext): Promise<number>;
}

/** Options most commands share. */
export const jsonOption: OptionSpec = { json: { type: 'boolean', default: false } };

/** Write a line (or a JSON value as one line) to a stream. */
export function out(stream: NodeJS.WritableStream, value: unknown): void {
  stream.write(typeof value === 'string' ? value + '\n' : JSON.stringify(value) + '\n');
}
