/**
 * The `juki` command: parses the words, finds the subcommand, runs it, and turns any refusal
 * into one clear line on stderr and a non-zero exit code (2 for usage errors, 1 otherwise).
 */
import { parseArgs } from 'node:util';
import { JukiError, isJukiError } from '../util/index.ts';
import type { Command } from './command.ts';
import { commands } from './commands/index.ts';

export async function main(argv: string[], io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (e) {
    if (isJukiError(e)) {
      io.stderr.write(`juki: ${e.message}\n`);
      return e.code === 'JUKI_ERR_USAGE' ? 2 : 1;
    }
    io.stderr.write(`juki: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 70;
  }
}

async function dispatch(argv: string[], io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): Promise<number> {
  const words = argv.filter((a) => !a.startsWith('-'));
  // Longest command path that prefixes the words.
  const match = [...commands]
    .sort((a, b) => b.path.length - a.path.length)
    .find((c) => c.path.every((w, i) => words[i] === w));
  const wantsHelp = argv.includes('--help') || argv.includes('-h');
  if (!match) {
    if (argv.length === 0 || (wantsHelp && words.length === 0) || words[0] === 'help') {
      io.stdout.write(overview());
      return 0;
    }
    const prefix = words.slice(0, 2).join(' ');
    const group = commands.filter((c) => c.path[0] === words[0]);
    if (group.length && words.length <= 1) {
      if (wantsHelp) {
        io.stdout.write(group.map((c) => `  juki ${c.path.join(' ').padEnd(22)} ${c.summary}`).join('\n') + '\n');
        return 0;
      }
      throw new JukiError('JUKI_ERR_USAGE', `'juki ${words[0]}' needs a subcommand: ${group.map((c) => c.path[1]).join(', ')} (see 'juki ${words[0]} --help')`);
    }
    throw new JukiError('JUKI_ERR_USAGE', `unknown command '${prefix}' (see 'juki --help')`);
  }
  if (wantsHelp) {
    io.stdout.write(helpOf(match));
    return 0;
  }
  const rest = removePath(argv, match.path);
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: match.options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new JukiError('JUKI_ERR_USAGE', `${(e as Error).message.split('\n')[0]} (see 'juki ${match.path.join(' ')} --help')`);
  }
  const [min, max] = match.positionals ?? [0, 0];
  const n = parsed.positionals.length;
  if (n < min || n > max) {
    const what = n < min ? 'missing argument' : `unexpected argument '${parsed.positionals[max]}'`;
    throw new JukiError('JUKI_ERR_USAGE', `${what}: usage: juki ${match.path.join(' ')} ${match.usage}`);
  }
  return match.run({ values: parsed.values as Record<string, string | boolean | string[] | undefined>, positionals: parsed.positionals, ...io });
}

/** Drop the command words (first occurrence of each, in order) and keep everything else. */
function removePath(argv: string[], path: readonly string[]): string[] {
  const out = [...argv];
  let from = 0;
  for (const w of path) {
    const i = out.indexOf(w, from);
    out.splice(i, 1);
    from = i;
  }
  return out;
}

function overview(): string {
  const lines = commands.map((c) => `  juki ${c.path.join(' ').padEnd(22)} ${c.summary}`);
  return [
    'juki: the Basic Resident Register Card system (住民基本台帳カード), MIC Notice No. 392 of 2003',
    '',
    'Usage: juki <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    "Run 'juki <command> --help' for a command's options.",
    '',
  ].join('\n');
}

function helpOf(c: Command): string {
  return `Usage: juki ${c.path.join(' ')} ${c.usage}\n\n${c.summary}\n\n${c.help.trim()}\n`;
}
