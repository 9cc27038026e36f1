import { parseArgs, type ParseArgsConfig } from 'node:util';
import { closest } from '../config/suggest.js';
import { UsageError } from './errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs in strict mode, turning its errors into UsageError (exit 64) that name the command and the nearest option. */
export function parse<O extends Options>(argv: string[], options: O, positionals = 0, cmd?: { name: string }) {
  const see = cmd ? `; see "batch-drive-sync ${cmd.name} --help"` : '';
  try {
    const r = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: positionals > 0 });
    if (r.positionals.length > positionals) throw new UsageError(`unexpected argument ${JSON.stringify(r.positionals[positionals])}${see}`);
    return r;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const code = (e as { code?: string }).code;
    const msg = e instanceof Error ? e.message.replace(/\. To specify.*$/s, '') : String(e);
    const unknown = /^Unknown option '(-{1,2})([^']*)'/.exec(msg);
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown) {
      const near = closest(unknown[2]!, Object.keys(options));
      throw new UsageError(`unknown option ${unknown[1]}${unknown[2]}${near ? ` (did you mean --${near}?)` : ''}${see}`);
    }
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') throw new UsageError(`${msg.replace(/^Unexpected argument/, 'unexpected argument')}${see}`);
    throw new UsageError(`${msg.charAt(0).toLowerCase()}${msg.slice(1)}${see}`);
  }
}
