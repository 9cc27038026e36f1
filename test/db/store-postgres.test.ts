import { pgStoreBackend } from '../helpers/store-backends.js';
import { storeContract } from './store-contract.js';

// The same contract as store.test.ts, on a real PostgreSQL server (test/helpers/postgres.ts).
storeContract(pgStoreBackend);
