// Child process of the crash test: sets keys one after another through a real Keyv on a
// JsonFileStore and prints each index once its set has resolved, until it is killed.
import { Keyv } from 'keyv';
import { JsonFileStore } from '../../connector/store/json-file-store.js';

const [filename] = process.argv.slice(2);
if (!filename) throw new Error('usage: json-file-store-writer <file>');
const keyv = new Keyv({ store: new JsonFileStore(filename), namespace: 'state', throwOnErrors: true });
// Some bulk so a write takes a moment and the kill tends to land inside one.
const padding = 'p'.repeat(2048);
for (let i = 0; ; i++) {
  await keyv.set(`record-${i}`, { i, padding });
  process.stdout.write(`${i}\n`);
}
