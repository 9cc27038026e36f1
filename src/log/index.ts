export { createLogger, createSilentLogger, type Logger, type LogLevel, type LogMeta, type LoggerOptions } from './logger.js';
export { errorMessage, isSecretKey, redact, redactText } from './redact.js';
