// A resumable session URI is sent our bearer token with every chunk. One read from the database
// (another program writes it) or from a Location header is used only where Drive's own sessions
// live: the configured endpoint, Drive's upload path, with an upload_id.
import { endpointRewriter, isGoogleHost } from './auth.js';

const UPLOAD_PATH = '/upload/drive/v3/files';

/**
 * Why `uri` is not a resumable session of `fileId` on `endpoint` (as the request interceptor
 * will send it); null when it is one. Accepted: `<endpoint>/upload/drive/v3/files?…upload_id=…`
 * and `…/files/<fileId>?…` (an update's session).
 */
export function sessionUriProblem(endpoint: string, uri: string, fileId: string): string | null {
  let u: URL;
  try {
    u = endpointRewriter(endpoint)(new URL(uri));
  } catch {
    return 'not an absolute URL';
  }
  const base = new URL(endpoint);
  const basePath = base.pathname.replace(/\/+$/, '');
  // On Google itself every *.googleapis.com host is Google's; anywhere else only the endpoint's origin.
  const sameServer = isGoogleHost(base.hostname) ? u.protocol === 'https:' && isGoogleHost(u.hostname) && u.port === '' : u.origin === base.origin;
  if (!sameServer) return `not on the configured drive.api_endpoint ${base.origin}`;
  if (u.username || u.password || u.hash) return 'carries user info or a fragment';
  const prefix = basePath + UPLOAD_PATH;
  const rest = u.pathname.startsWith(prefix) ? u.pathname.slice(prefix.length) : null;
  if (rest === null || (rest !== '' && segment(rest) !== fileId)) return `path ${u.pathname} is not ${prefix} (or …/${fileId})`;
  if (!u.searchParams.get('upload_id')) return 'has no upload_id';
  return null;
}

// "/<id>" -> id; anything else (more segments, bad escapes) -> null.
function segment(rest: string): string | null {
  if (!rest.startsWith('/') || rest.indexOf('/', 1) !== -1) return null;
  try {
    return decodeURIComponent(rest.slice(1));
  } catch {
    return null;
  }
}
