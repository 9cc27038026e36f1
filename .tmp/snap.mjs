import { readFileSync } from 'node:fs';
const s = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const f = s.snapshot.meta.node_fields; const types = s.snapshot.meta.node_types[0];
const n = f.length; const nodes = s.nodes; const strings = s.strings;
const iType = f.indexOf('type'), iName = f.indexOf('name'), iSelf = f.indexOf('self_size');
const by = new Map(); let total = 0;
for (let i = 0; i < nodes.length; i += n) { const t = types[nodes[i + iType]]; const name = t === 'object' || t === 'native' ? strings[nodes[i + iName]] : `(${t})`; const sz = nodes[i + iSelf]; total += sz; by.set(name, (by.get(name) ?? 0) + sz); }
console.log('total', (total / 1e6).toFixed(1), 'MB');
for (const [k, v] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log((v / 1e6).toFixed(2), k.slice(0, 80));
