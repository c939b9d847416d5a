<?php

declare(strict_types=1);

/**
 * The OAuth states this panel handed to Google, each with the settings page that asked and its
 * object, so the one fixed callback URL can bounce Google's answer back to that page.
 *
 * The connector validates the state itself (single use, 10 minutes); this record only routes
 * the answer and refuses answers meant for another object. Kept in one pm_Settings value
 * (the SDK has no key listing), keyed by the state's SHA-256 so the state itself is not stored;
 * expired entries are dropped whenever it is written.
 */
final class Modules_GdriveBackup_PendingStates
{
    private const KEY = 'oauth-pending';
    public const TTL = 600;
    /** pm_Settings holds 5000 characters: keep the newest few. */
    private const MAX_ENTRIES = 12;

    /** @var Closure(): int */
    private Closure $clock;

    /** @param (Closure(): int)|null $clock */
    public function __construct(?Closure $clock = null)
    {
        $this->clock = $clock ?? static fn (): int => time();
    }

    public function remember(string $state, string $object, string $returnUrl): void
    {
        if (!self::isLocalUrl($returnUrl)) {
            throw new pm_Exception(pm_Locale::lmsg('oauth.badReturnUrl'));
        }
        $entries = $this->load();
        $entries[self::hash($state)] = ['object' => $object, 'returnUrl' => $returnUrl, 'expires' => ($this->clock)() + self::TTL];
        uasort($entries, static fn (array $a, array $b): int => $b['expires'] <=> $a['expires']);
        $this->save(array_slice($entries, 0, self::MAX_ENTRIES, true));
    }

    /** @return array{object: string, returnUrl: string, expires: int}|null the live record of the state */
    public function find(string $state): ?array
    {
        return $this->load()[self::hash($state)] ?? null;
    }

    /**
     * The live record of a state not answered yet, marked answered: the one fixed callback lets
     * each state through once. Null for an unknown, expired or already answered state.
     *
     * @return array{object: string, returnUrl: string, expires: int}|null
     */
    public function claim(string $state): ?array
    {
        $entries = $this->load();
        $key = self::hash($state);
        $record = $entries[$key] ?? null;
        if ($record === null || ($record['answered'] ?? false)) {
            return null;
        }
        $entries[$key]['answered'] = true;
        $this->save($entries);
        return $record;
    }

    public function forget(string $state): void
    {
        $entries = $this->load();
        unset($entries[self::hash($state)]);
        $this->save($entries);
    }

    /** A path on this panel: never another host (`//host`, `https://...`), so no open redirect. */
    private static function isLocalUrl(string $url): bool
    {
        return str_starts_with($url, '/') && !str_starts_with($url, '//') && !str_contains($url, '\\')
            && !preg_match('/[\x00-\x1f]/', $url);
    }

    private static function hash(string $state): string
    {
        return hash('sha256', $state);
    }

    /** @return array<string, array{object: string, returnUrl: string, expires: int}> live entries */
    private function load(): array
    {
        $entries = json_decode((string) pm_Settings::get(self::KEY, '{}'), true);
        $now = ($this->clock)();
        return array_filter(
            is_array($entries) ? $entries : [],
            static fn ($entry): bool => is_array($entry) && ($entry['expires'] ?? 0) > $now,
        );
    }

    /** @param array<string, array{object: string, returnUrl: string, expires: int}> $entries */
    private function save(array $entries): void
    {
        pm_Settings::set(self::KEY, $entries === [] ? null : json_encode($entries, JSON_UNESCAPED_SLASHES));
    }
}
