// Which resumable session URIs may receive our token.
import test from 'ava';
import { sessionUriProblem } from '../../src/drive/index.js';

test("emulator-style endpoint: only its own origin, Drive's upload path, with an upload_id", (t) => {
  const ep = 'http://127.0.0.1:8089';
  t.is(sessionUriProblem(ep, `${ep}/upload/drive/v3/files?uploadType=resumable&upload_id=AEmu1`, 'F1'), null);
  t.is(sessionUriProblem(ep, `${ep}/upload/drive/v3/files/F1?uploadType=resumable&upload_id=AEmu1`, 'F1'), null);
  // Google's own URL is rewritten onto the endpoint by the client, so it lands there too.
  t.is(sessionUriProblem(ep, 'https://www.googleapis.com/upload/drive/v3/files?upload_id=x', 'F1'), null);
  const bad: [string, RegExp][] = [
    ['http://127.0.0.1:8090/upload/drive/v3/files?upload_id=x', /not on the configured drive\.api_endpoint http:\/\/127\.0\.0\.1:8089/],
    ['https://127.0.0.1:8089/upload/drive/v3/files?upload_id=x', /not on the configured/],
    ['http://evil.example/upload/drive/v3/files?upload_id=x', /not on the configured/],
    [`${ep}/upload/drive/v3/files/OTHER?upload_id=x`, /path .* is not \/upload\/drive\/v3\/files \(or …\/F1\)/],
    [`${ep}/upload/drive/v3/files/F1/extra?upload_id=x`, /path/],
    [`${ep}/upload/drive/v3/filesX?upload_id=x`, /path/],
    [`${ep}/drive/v3/files?upload_id=x`, /path/],
    [`${ep}/upload/drive/v3/files?uploadType=resumable`, /no upload_id/],
    [`${ep}/upload/drive/v3/files?upload_id=`, /no upload_id/],
    ['http://u:p@127.0.0.1:8089/upload/drive/v3/files?upload_id=x', /user info/],
    ['/upload/drive/v3/files?upload_id=x', /not an absolute URL/],
    ['javascript:alert(1)', /not on the configured/],
  ];
  for (const [uri, why] of bad) t.regex(sessionUriProblem(ep, uri, 'F1') ?? 'accepted', why, uri);
});

test("an endpoint with a base path keeps it; Google's endpoint accepts Google hosts over https only", (t) => {
  const ep = 'https://proxy.example/google';
  t.is(sessionUriProblem(ep, 'https://proxy.example/google/upload/drive/v3/files?upload_id=x', 'F'), null);
  t.regex(sessionUriProblem(ep, 'https://proxy.example/upload/drive/v3/files?upload_id=x', 'F') ?? '', /path/);
  const g = 'https://www.googleapis.com';
  t.is(sessionUriProblem(g, `${g}/upload/drive/v3/files?uploadType=resumable&upload_id=ABC`, 'F'), null);
  t.is(sessionUriProblem(g, 'https://content.googleapis.com/upload/drive/v3/files?upload_id=ABC', 'F'), null);
  t.regex(sessionUriProblem(g, 'http://www.googleapis.com/upload/drive/v3/files?upload_id=ABC', 'F') ?? '', /not on the configured/);
  t.regex(sessionUriProblem(g, 'https://www.googleapis.com.evil.example/upload/drive/v3/files?upload_id=ABC', 'F') ?? '', /not on the configured/);
  t.regex(sessionUriProblem(g, 'https://www.googleapis.com:8443/upload/drive/v3/files?upload_id=ABC', 'F') ?? '', /not on the configured/);
});
