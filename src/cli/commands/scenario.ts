/** `juki scenario`: the whole story on a fresh in-process network, one line per step. */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { JukiError } from '../../util/index.ts';
import { type Command, out } from '../command.ts';
import { runScenario, type StepResult } from '../scenario/story.ts';

const FAULTS = ['agency-skips-notice-list'] as const;

export const scenarioCommand: Command = {
  path: ['scenario'],
  summary: 'Run the whole story (issuance → agency → lost → notices → reissue → move) on a fresh in-process network',
  usage: '[--json] [--keep DIR]',
  options: {
    json: { type: 'boolean', default: false },
    keep: { type: 'string' },
    // Hidden, for the command's own test: make a component misbehave and see the story fail.
    'inject-fault': { type: 'string' },
  },
  help: `
Builds a fresh network in this process (the national center, prefectures 13 and 27,
municipalities 131016 Chiyoda and 271004 Osaka, agencies passport and pension), each node on its
own SQLite file and key store, on one in-process Juki-net with certificates from a fresh
network CA, and runs with the real components:

  setup → issuance (card personalised through the counter terminal, PIN on the pad) →
  card flag for another municipality → agency verification (PIN on the desk's pad, the national
  center reads the card through the relay) → lost report → notices → refusal at the agency →
  reissue → move to Osaka with the card returned

printing one line per step with the requirement IDs it exercises. Each step checks what it
must have caused; the first that misbehaves is printed with why, and the exit code is 1.

Options:
  --json       print {"ok", "dataDir"?, "steps": [{"name", "ids", "ok", "detail"}]} as one line
  --keep DIR   build the network in DIR (must be empty or absent) and keep it; default a
               temporary folder, removed at the end`,
  async run({ values, stdout }) {
    const fault = values['inject-fault'] as string | undefined;
    if (fault !== undefined && !(FAULTS as readonly string[]).includes(fault)) {
      throw new JukiError('JUKI_ERR_USAGE', `--inject-fault: expected one of ${FAULTS.join(', ')}, got ${JSON.stringify(fault)}`);
    }
    const keep = values.keep as string | undefined;
    if (keep !== undefined && existsSync(keep) && readdirSync(keep).length > 0) {
      throw new JukiError('JUKI_ERR_USAGE', `--keep: ${keep} is not empty; the scenario needs a fresh data dir`);
    }
    const dataDir = keep !== undefined ? resolve(keep) : mkdtempSync(join(tmpdir(), 'juki-scenario-'));
    const json = values.json === true;
    let steps: StepResult[];
    try {
      steps = await runScenario({
        dataDir, ...(fault ? { fault: fault as (typeof FAULTS)[number] } : {}),
        onStep: (s) => {
          if (!json) out(stdout, `${s.ok ? '✔' : '✘'} [${s.ids.join(' ')}] ${s.name}: ${s.detail}`);
        },
      });
    } finally {
      if (keep === undefined) rmSync(dataDir, { recursive: true, force: true });
    }
    const ok = steps.length > 0 && steps.every((s) => s.ok);
    if (json) out(stdout, { ok, ...(keep !== undefined ? { dataDir } : {}), steps });
    else {
      const failed = steps.find((s) => !s.ok);
      out(stdout, failed ? `scenario FAILED at step "${failed.name}"` : `scenario passed: ${steps.length} steps${keep !== undefined ? `; data kept in ${dataDir}` : ''}`);
    }
    return ok ? 0 : 1;
  },
};
