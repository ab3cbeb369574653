/** Web: the HTTP server of a juki process, staff pages and role APIs. */
export { createServer } from './server.ts';
export type { HostedNode, ServerOptions } from './server.ts';
