import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The folder that holds package.json, found from this file's location. */
export const projectRoot: string = fileURLToPath(new URL('../..', import.meta.url));

/** A vendored file under `data/`. */
export function dataFile(name: string): string {
  return join(projectRoot, 'data', name);
}
