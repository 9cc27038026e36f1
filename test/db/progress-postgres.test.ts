import { pgStoreBackend } from '../helpers/store-backends.js';
import { progressContract } from './progress-contract.js';

// The same reporting and fairness checks as progress.test.ts, on a real PostgreSQL server.
progressContract(pgStoreBackend);
