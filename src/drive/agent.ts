// The HTTP(S) agents every Drive request goes through (metadata calls, uploads, token requests).
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { createSecureContext, rootCertificates } from 'node:tls';
import type { Duplex } from 'node:stream';
import { ConfigError } from '../config/index.js';

export interface DriveAgents {
  /** The agent for a URL (node-fetch, which gaxios uses on Node, takes one per request). */
  for(url: URL): http.Agent;
  /** Closes the idle kept-alive sockets. */
  destroy(): void;
}

export interface AgentOptions {
  /** Extra CA certificates (PEM) trusted besides the system's (drive.ca_file). */
  extraCa?: string | null;
  /** Sockets kept open per host; the daemon runs upload.concurrency requests plus a few metadata calls. */
  maxSockets?: number;
}

// Node sets TCP_NODELAY on plain sockets an agent makes (agent option noDelay, default true) but
// tls.connect does not pass it on, so TLS sockets ran with Nagle's algorithm: a small request
// whose headers and body go out as two writes waited for the server's delayed ACK (~40 ms each).
function noDelay(socket: Socket | Duplex): void {
  (socket as Socket).setNoDelay?.(true);
}

class NoDelayHttpAgent extends http.Agent {
  override createConnection(...args: Parameters<http.Agent['createConnection']>): ReturnType<http.Agent['createConnection']> {
    const s = super.createConnection(...args);
    if (s) noDelay(s);
    return s;
  }
}

class NoDelayHttpsAgent extends https.Agent {
  override createConnection(...args: Parameters<https.Agent['createConnection']>): ReturnType<https.Agent['createConnection']> {
    const s = super.createConnection(...args);
    if (s) noDelay(s);
    return s;
  }
}

/** Keep-alive agents with TCP_NODELAY on every socket, plain and TLS. */
export function createDriveAgents(o: AgentOptions = {}): DriveAgents {
  const common = {
    keepAlive: true,
    keepAliveMsecs: 1000,
    scheduling: 'lifo',
    noDelay: true,
    maxSockets: o.maxSockets ?? 32,
    maxFreeSockets: o.maxSockets ?? 32,
  } as const;
  const httpAgent = new NoDelayHttpAgent(common);
  // With an explicit `ca` Node trusts only it: keep the bundled roots (NODE_EXTRA_CA_CERTS is
  // already part of the default when no `ca` is given). One secure context, made once: a `ca`
  // option would be folded into the agent's connection key on every request (the whole bundle
  // as a string: 184 ms of CPU per 256 MiB upload).
  const httpsAgent = new NoDelayHttpsAgent(o.extraCa ? { ...common, secureContext: createSecureContext({ ca: [...rootCertificates, o.extraCa] }) } : common);
  return {
    for: (url) => (url.protocol === 'https:' ? httpsAgent : httpAgent),
    destroy() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/** Reads drive.ca_file: PEM certificates, or a ConfigError naming the file and what was expected. */
export async function readCaFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'read error';
    throw new ConfigError([`drive.ca_file ${path}: cannot read (${code}); expected a PEM file of CA certificates`]);
  }
  if (!/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.test(text)) {
    throw new ConfigError([`drive.ca_file ${path}: no "-----BEGIN CERTIFICATE-----" block; expected a PEM file of CA certificates`]);
  }
  return text;
}
