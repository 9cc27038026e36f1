import { sqliteStoreBackend } from '../helpers/store-backends.js';
import { storeContract } from './store-contract.js';

storeContract(sqliteStoreBackend);
