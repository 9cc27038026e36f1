export { configSchema, configSecrets, isLoopbackHost, type Config, type AuthConfig } from './schema.js';
export { loadConfig, parseConfig, DEFAULT_CONFIG_PATH, type ConfigEnv } from './load.js';
export { ConfigError } from './errors.js';
export { parseFolderPattern, renderFolderPattern, patternColumns, sanitizeFolderName, PatternError, type ParsedPattern } from './folder-pattern.js';
export { closest, editDistance } from './suggest.js';
export { cronFieldProblems } from './cron-fields.js';
export { packageRoot, packageVersion } from './version.js';
