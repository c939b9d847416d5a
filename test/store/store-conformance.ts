/**
 * A small conformance suite for keyv store adapters, run through a real Keyv the way the
 * connector uses them. The Plesk adapter runs keyv's own @keyv/test-suite on top.
 */
import { Keyv, type KeyvStoreAdapter } from 'keyv';
import { afterEach, describe, expect, it, vi } from 'vitest';

export interface StoreUnderTest {
  store: KeyvStoreAdapter;
  /** A new adapter over the same storage (a restarted process); absent for memory-only stores. */
  reopen?: () => Promise<KeyvStoreAdapter>;
  cleanup(): Promise<void>;
}

export function runStoreConformance(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`${name}: keyv store conformance`, () => {
    let subject: StoreUnderTest | undefined;
    const keyv = async (namespace = 'test') => {
      subject = await open();
      return new Keyv({ store: subject.store, namespace, throwOnErrors: true });
    };
    afterEach(async () => {
      vi.useRealTimers();
      await subject?.store.disconnect?.();
      await subject?.cleanup();
      subject = undefined;
    });

    it('round-trips strings, unicode and objects', async () => {
      const kv = await keyv();
      const record = { kind: 'write', offset: 262144, nested: { list: [1, 'two', null] } };
      await kv.set('s', 'plain value');
      await kv.set('u', 'ключ · 鍵 · 🔑');
      await kv.set('o', record);
      expect(await kv.get('s')).toBe('plain value');
      expect(await kv.get('u')).toBe('ключ · 鍵 · 🔑');
      expect(await kv.get('o')).toEqual(record);
      expect(await kv.get('absent')).toBeUndefined();
    });

    it('overwrites, deletes (true once, then false) and answers has()', async () => {
      const kv = await keyv();
      await kv.set('k', 'one');
      await kv.set('k', 'two');
      expect(await kv.get('k')).toBe('two');
      expect(await kv.has('k')).toBe(true);
      expect(await kv.delete('k')).toBe(true);
      expect(await kv.delete('k')).toBe(false);
      expect(await kv.has('k')).toBe(false);
    });

    it('expires values after their TTL', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const kv = await keyv();
      await kv.set('short', 'v', 60_000);
      await kv.set('long', 'v');
      expect(await kv.get('short')).toBe('v');
      vi.setSystemTime(Date.now() + 60_001);
      expect(await kv.get('short')).toBeUndefined();
      expect(await kv.get('long')).toBe('v');
    });

    it('clear() empties the store', async () => {
      const kv = await keyv();
      await kv.set('a', 1);
      await kv.set('b', 2);
      await kv.clear();
      expect(await kv.get('a')).toBeUndefined();
      expect(await kv.get('b')).toBeUndefined();
    });

    it('keeps parallel writes of many keys', async () => {
      const kv = await keyv();
      await Promise.all(Array.from({ length: 200 }, (_, i) => kv.set(`key-${i}`, { i })));
      const values = await Promise.all(Array.from({ length: 200 }, (_, i) => kv.get(`key-${i}`)));
      expect(values).toEqual(Array.from({ length: 200 }, (_, i) => ({ i })));
    });

    it('keeps its values for the next process (reopen)', async () => {
      const kv = await keyv();
      if (!subject?.reopen) return;
      await kv.set('kept', { v: 'across restarts' });
      await kv.set('gone', 'x');
      await kv.delete('gone');
      await subject.store.disconnect?.();
      const store = await subject.reopen();
      const again = new Keyv({ store, namespace: 'test', throwOnErrors: true });
      expect(await again.get('kept')).toEqual({ v: 'across restarts' });
      expect(await again.get('gone')).toBeUndefined();
      await store.disconnect?.();
    });
  });
}
