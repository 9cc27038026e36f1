// Which leases a restarted daemon takes back at once: only those of its own host's dead processes.
import test from 'ava';
import { isDeadLocalOwner, leaseOwnerId, parseLeaseOwner, processAlive, takeBackDeadLeases } from '../../src/daemon/lease-takeback.js';
import { createSilentLogger } from '../../src/log/index.js';
import { setupSync } from '../sync/fixtures.js';

const self = { host: 'web-1.example', pid: 4242, owner: 'web-1.example:4242:aaaa0001' };
const alive = (pids: number[]) => (pid: number) => pids.includes(pid);

test('owner ids: host:pid:random, parsed back; hand-written owners are not ours', (t) => {
  t.regex(leaseOwnerId('h.example', 17), /^h\.example:17:[0-9a-f]{8}$/);
  t.deepEqual(parseLeaseOwner('h.example:17:0a1b'), { host: 'h.example', pid: 17 });
  for (const o of ['', 'someone', 'h:x:0a', 'h:17:', 'h:0:aa', ':17:aa', 'h:17:XYZ']) t.is(parseLeaseOwner(o), null, o);
});

test('dead local owners only: same host and the pid is gone, or our own pid in a past life', (t) => {
  const none = alive([]);
  t.true(isDeadLocalOwner('web-1.example:99:bbbb', self, none), 'same host, process gone');
  t.false(isDeadLocalOwner('web-1.example:99:bbbb', self, alive([99])), 'same host, process alive (or its pid reused): wait for expiry');
  t.false(isDeadLocalOwner('web-2.example:99:bbbb', self, none), 'another host: its processes are not ours to judge');
  t.false(isDeadLocalOwner(self.owner, self, none), 'never our own leases');
  t.true(isDeadLocalOwner('web-1.example:4242:bbbb', self, alive([4242])), 'our pid under another id: a previous life of this pid (containers reuse low pids)');
  t.false(isDeadLocalOwner('hand-written', self, none));
  t.true(processAlive(process.pid));
});

test("takeBackDeadLeases releases the dead local owner's rows (pending now, attempt refunded) and nothing else", async (t) => {
  const s = await setupSync(t, { jobs: [{ job_id: 'j', enabled: true }] });
  const { store } = s.rt.ctx;
  for (const f of ['a', 'b', 'c', 'd']) await store.upsertFile('j', f, { size: 1, mtimeMs: 1 });
  const dead = 'web-1.example:99:dead';
  const [a, b] = await store.claimDue(dead, 2, 600_000);
  const [c] = await store.claimDue('web-2.example:99:dead', 1, 600_000);
  const [d] = await store.claimDue('web-1.example:100:live', 1, 600_000);
  const n = await takeBackDeadLeases(store, self, createSilentLogger(), alive([100]));
  t.is(n, 2);
  for (const r of [a, b]) t.like(await s.row(r!.id), { upload_status: 'pending', lease_owner: null, attempts: 0 });
  t.like(await s.row(c!.id), { upload_status: 'uploading', lease_owner: 'web-2.example:99:dead' });
  t.like(await s.row(d!.id), { upload_status: 'uploading', lease_owner: 'web-1.example:100:live' });
  t.deepEqual((await store.claimDue(self.owner, 10, 600_000)).map((r) => r.id).sort(), [a!.id, b!.id].sort(), 'claimable at once');
});
