/** The deterministic simulation of Juki-net (docs/network.md, "Simulation"). */
export { runSeed, runSeeds, replayCommand } from './run.ts';
export type { SimOptions, SimResult, SeedsSummary } from './run.ts';
export { SimRandom } from './prng.ts';
export { VirtualClock } from './clock.ts';
