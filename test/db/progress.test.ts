import { sqliteStoreBackend } from '../helpers/store-backends.js';
import { progressContract } from './progress-contract.js';

progressContract(sqliteStoreBackend);
