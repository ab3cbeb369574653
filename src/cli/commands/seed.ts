/** `juki seed`: fill a municipality's register with deterministic synthetic residents. */
import { join } from 'node:path';
import { AuditLog } from '../../audit/index.ts';
import { openDatabase, parseLocation } from '../../db/index.ts';
import {
  DEFAULT_AS_OF,
  MAX_SYNTHETIC_RESIDENTS,
  ResidentRegister,
  municipality,
  parseDate,
  syntheticEntries,
  todayInJapan,
} from '../../register/index.ts';
import { JukiError, invalid } from '../../util/index.ts';
import { type Command, jsonOption, out } from '../command.ts';
import { defaultDataDir } from '../runtime.ts';

export const seedCommand: Command = {
  path: ['seed'],
  summary: 'Fill a municipality\'s resident register with synthetic residents',
  usage: '--municipality CODE [--residents N] [--seed N] [--as-of YYYY-MM-DD] [--db LOCATION] [--progress] [--json]',
  options: {
    municipality: { type: 'string' },
    residents: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '1' },
    'as-of': { type: 'string', default: DEFAULT_AS_OF },
    db: { type: 'string' },
    progress: { type: 'boolean', default: false },
    ...jsonOption,
  },
  help: `
Generates realistic residents (households with Japanese names, katakana readings, birth
dates and addresses in the municipality) from a seed: the same arguments always give the
same residents. All of them are written in one transaction, or none.

Options:
  --municipality CODE  6-digit local-government code from data/municipalities.csv, e.g. 131016
  --residents N        how many (default 1000, at most ${MAX_SYNTHETIC_RESIDENTS})
  --seed N             whole number 0 to 4294967295 (default 1)
  --as-of DATE         ages and dates as of this day (default ${DEFAULT_AS_OF})
  --db LOCATION        a SQLite file or a postgres:// URL (default
                       <data dir>/municipality-CODE.sqlite, data dir $JUKI_DATA_DIR or .juki/data)
  --progress           show the progress bar on stderr even when it is not a terminal
  --json               print the summary as one JSON object

The register must not already hold residents of the municipality.`,
  async run({ values, stdout, stderr }) {
    // Check every argument before touching any database, so bad input writes nothing.
    if (values.municipality === undefined) {
      throw new JukiError('JUKI_ERR_USAGE', "--municipality: required: the 6-digit local-government code to seed, e.g. 131016 (see 'juki seed --help')");
    }
    const m = municipality(values.municipality, '--municipality');
    const count = wholeNumber(values.residents as string, '--residents', 1, MAX_SYNTHETIC_RESIDENTS);
    const seed = wholeNumber(values.seed as string, '--seed', 0, 0xffffffff);
    const asOf = parseDate(values['as-of'], '--as-of', { min: '1970-01-01', max: todayInJapan() });
    const location = (values.db as string | undefined) ?? join(defaultDataDir(), `municipality-${m.code}.sqlite`);
    parseLocation(location);

    const started = performance.now();
    const database = await openDatabase(location);
    try {
      const register = new ResidentRegister(database, m.code);
      const existing = await register.count();
      if (existing > 0) {
        throw new JukiError(
          'JUKI_ERR_CONFLICT',
          `--db: the register of ${m.code} in ${database.location} already holds ${existing} residents; seed into an empty one`,
          { field: '--db' },
        );
      }
      const tty = Boolean((stderr as NodeJS.WriteStream).isTTY);
      const bar = tty || values.progress === true ? progressBar(stderr, count, tty) : undefined;
      const written = await register.registerMany(syntheticEntries({ seed, municipality: m, count, asOf }), {
        batchSize: 500,
        onProgress: (done) => bar?.update(done),
      });
      bar?.done();
      // One entry for the whole run: synthetic residents are test data, not register changes
      // a person made, and 10,000 entries would bury the log's real history.
      await new AuditLog(database, `municipality-${m.code}`).record({
        type: 'seed.run',
        actor: { kind: 'system' },
        subject: { kind: 'batch', id: `seed-${seed}-${count}` },
        details: { dataset: `synthetic residents of ${m.code}, seed ${seed}, as of ${asOf}`, records: written },
      });
      const elapsedMs = Math.round(performance.now() - started);
      const summary = {
        municipality: m.code,
        name: m.addressPrefix,
        residents: written,
        seed,
        asOf,
        db: database.location,
        dialect: database.dialect,
        elapsedMs,
      };
      if (values.json) out(stdout, summary);
      else out(stdout, `seeded ${written} residents of ${m.addressPrefix} (${m.code}) with seed ${seed} into ${database.location} in ${(elapsedMs / 1000).toFixed(1)} s`);
      return 0;
    } finally {
      await database.close();
    }
  },
};

function wholeNumber(text: string, field: string, min: number, max: number): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) < min || Number(text) > max) {
    throw invalid(field, `expected a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

/** A one-line bar redrawn in place on a terminal; on anything else, one line per update. */
function progressBar(stream: NodeJS.WritableStream, total: number, tty: boolean): { update(done: number): void; done(): void } {
  const width = 30;
  const draw = (done: number): string => {
    const filled = Math.round((done / total) * width);
    return `seeding [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${Math.floor((done / total) * 100)}%`;
  };
  return {
    update: (done) => stream.write(tty ? `\r${draw(done)}` : `${draw(done)}\n`),
    done: () => {
      if (tty) stream.write('\n');
    },
  };
}
