/** Small shared helpers every concern may import: error catalogue, hex, data files. */
export { ERROR_CODES, JukiError, invalid, isJukiError } from './errors.ts';
export type { ErrorCode, ErrorDetails } from './errors.ts';
export { toHex, fromHex } from './hex.ts';
export { projectRoot, dataFile } from './paths.ts';
export { timeOrderedId } from './time-ordered-id.ts';
