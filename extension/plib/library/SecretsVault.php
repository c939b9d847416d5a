<?php

declare(strict_types=1);

/**
 * The connector's secrets (refresh tokens), owned by the extension in Plesk's Key-Value Storage,
 * encrypted by Plesk (pm_Settings::setEncrypted/getDecrypted, AES-128-CBC under Plesk's key).
 * pm_Settings works for every caller Plesk has (the panel as psaadm, a backup as root), so the
 * connector keeps them in memory only and this vault is their one copy on disk; the connector
 * gets them with PUT /v1/secrets and hands its changes back (ConnectorClient, protocol in the
 * docs/http-api.md and connector/store/client-secrets-store.ts).
 *
 * Keys are the connector's, opaque here. pm_Settings cannot list its names, so the keys are kept
 * in an index (plain values: keys name no secret), split over `secrets-index-0..n-1` with the
 * count in `secrets-index` because one value holds 5000 characters at most. A value is stored
 * under `secret-<sha1 of its key>`, a short name whatever the key.
 */
final class Modules_GdriveBackup_SecretsVault
{
    /** The connector refuses longer values too (MAX_SECRET_LENGTH); pm_Settings holds 5000. */
    public const MAX_VALUE_LENGTH = 4000;
    private const INDEX_COUNT = 'secrets-index';
    private const INDEX_CHUNK = 'secrets-index-';
    private const INDEX_CHUNK_LENGTH = 4000;
    private const VALUE_PREFIX = 'secret-';

    /** @return array<string, string> every key and its value */
    public function all(): array
    {
        $entries = [];
        foreach ($this->keys() as $key) {
            $value = pm_Settings::getDecrypted(self::name($key));
            if ($value !== null) {
                $entries[$key] = (string) $value;
            }
        }
        return $entries;
    }

    /**
     * Stores the connector's changes; every value is checked before anything is written.
     *
     * @param array<string, string> $set
     * @param list<string> $delete
     */
    public function apply(array $set, array $delete): void
    {
        foreach ($set as $key => $value) {
            if (!is_string($value) || strlen($value) > self::MAX_VALUE_LENGTH) {
                throw new Modules_GdriveBackup_ConnectorError(
                    pm_Locale::lmsg('error.secret_too_large', ['size' => is_string($value) ? strlen($value) : 0]),
                    'secret_too_large',
                );
            }
        }
        $index = array_fill_keys($this->keys(), true);
        foreach ($set as $key => $value) {
            pm_Settings::setEncrypted(self::name((string) $key), $value);
            $index[(string) $key] = true;
        }
        foreach ($delete as $key) {
            pm_Settings::setEncrypted(self::name((string) $key), null);
            unset($index[(string) $key]);
        }
        $this->writeIndex(array_map('strval', array_keys($index)));
    }

    /** @return list<string> */
    public function keys(): array
    {
        $count = (int) pm_Settings::get(self::INDEX_COUNT, '0');
        $json = '';
        for ($i = 0; $i < $count; $i++) {
            $json .= (string) pm_Settings::get(self::INDEX_CHUNK . $i, '');
        }
        $keys = $json === '' ? [] : json_decode($json, true);
        return is_array($keys) ? array_values(array_map('strval', $keys)) : [];
    }

    /** @param list<string> $keys */
    private function writeIndex(array $keys): void
    {
        $before = (int) pm_Settings::get(self::INDEX_COUNT, '0');
        // Escaped JSON is ASCII: cutting it by bytes keeps every chunk within the limit.
        $chunks = $keys === [] ? [] : str_split(json_encode($keys, JSON_THROW_ON_ERROR), self::INDEX_CHUNK_LENGTH);
        foreach ($chunks as $i => $chunk) {
            pm_Settings::set(self::INDEX_CHUNK . $i, $chunk);
        }
        pm_Settings::set(self::INDEX_COUNT, $chunks === [] ? null : (string) count($chunks));
        for ($i = count($chunks); $i < $before; $i++) {
            pm_Settings::set(self::INDEX_CHUNK . $i, null);
        }
    }

    private static function name(string $key): string
    {
        return self::VALUE_PREFIX . sha1($key);
    }
}
