// The loopback listener of `connect`: Google's answer reaches finish() as OAuthFinishInput,
// code or error, and the browser gets a page saying how it went.
import { expect, it } from 'vitest';
import { parsePastedAddress, startLoopbackCallback } from '../../connector/cli/oauth-loopback.js';
import type { OAuthFinishInput } from '../../connector/core/types.js';

it('hands code or error to finish() and answers the browser', async () => {
  const cases: Array<[string, OAuthFinishInput]> = [
    ['state=s&code=c', { state: 's', code: 'c' }],
    ['state=s&error=access_denied', { state: 's', error: 'access_denied' }],
    ['state=s', { state: 's', error: 'no code in the answer' }],
  ];
  for (const [query, expected] of cases) {
    const seen: OAuthFinishInput[] = [];
    const callback = await startLoopbackCallback(0, async (answer) => {
      seen.push(answer);
      if ('error' in answer) throw new Error(`denied: ${answer.error}`);
      return { email: 'admin@example.com' };
    });
    try {
      const page = await fetch(`${callback.redirectUri}?${query}`);
      expect(seen).toEqual([expected]);
      if ('code' in expected) {
        expect(page.status).toBe(200);
        expect(await page.text()).toContain('Connected as admin@example.com');
        await expect(callback.result).resolves.toEqual({ email: 'admin@example.com' });
      } else {
        expect(page.status).toBe(400);
        expect(await page.text()).toContain(`denied: ${expected.error}`);
        await expect(callback.result).rejects.toThrow(`denied: ${expected.error}`);
      }
    } finally {
      await callback.close();
    }
  }
});

it('finds the answer in a pasted address, or in its query alone', () => {
  const address = 'http://127.0.0.1:28373/oauth2callback?state=s1&code=4/abc&scope=x';
  expect(parsePastedAddress(address)).toEqual({ state: 's1', code: '4/abc' });
  expect(parsePastedAddress(` <${address}> `)).toEqual({ state: 's1', code: '4/abc' });
  expect(parsePastedAddress(`'${address}#frag'`)).toEqual({ state: 's1', code: '4/abc' });
  expect(parsePastedAddress('state=s1&code=4%2Fabc')).toEqual({ state: 's1', code: '4/abc' });
  expect(parsePastedAddress('http://127.0.0.1:28373/oauth2callback?state=s1&error=access_denied')).toEqual({
    state: 's1',
    error: 'access_denied',
  });
  for (const noise of ['', 'yes', 'http://127.0.0.1:28373/oauth2callback', '?code=only-a-code']) {
    expect(parsePastedAddress(noise)).toBeNull();
  }
});
