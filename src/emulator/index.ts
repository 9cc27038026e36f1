/**
 * A faithful local Google Drive v3 (plus /token) on plain node:http: the product's emulator for demos,
 * staging, operators' dry runs, benchmarks and tests. Imports nothing from elsewhere in src/.
 */
export type { Emulator, EmulatorFaults, EmulatorFile, EmulatorOptions, EmulatorStateDump, EmulatorStateNode, EmulatorStats } from './types.js';
export { createEmulator, startEmulator } from './server.js';
export { parseEmulatorArgs, runEmulatorCli } from './cli.js';
export { DEFAULT_FAULTS, mulberry32 } from './faults.js';
