<?php
// Bridge between the connector and Plesk's encrypted Key-Value Storage.
//
// The connector keeps refresh tokens here when `secretsStore` is `plesk` (Plesk's docs ask for
// tokens and passwords to live in this storage, encrypted). Plesk runs the script in the
// extension's context, where pm_Settings works:
//
//     plesk ext gdrive-backup kv   < request.json   > answer.json
//
// One JSON request on stdin, one JSON answer on stdout (one line), exit 0; on failure
// `{"error": {"code", "message"}}` and exit 1. Requests (keys and values are strings):
//
//     {"op": "get", "key": K}                    -> {"value": V or null}
//     {"op": "getMany", "keys": [K...]}          -> {"values": [V or null...]}
//     {"op": "has", "key": K}                    -> {"has": bool}
//     {"op": "hasMany", "keys": [K...]}          -> {"has": [bool...]}
//     {"op": "set", "key": K, "value": V}        -> {"ok": true}
//     {"op": "setMany", "entries": [{key, value}...]} -> {"ok": true}
//     {"op": "delete", "key": K}                 -> {"deleted": bool}
//     {"op": "deleteMany", "keys": [K...]}       -> {"deleted": [bool...]}
//     {"op": "clear", "namespace": N or null}    -> {"ok": true}   (N: keys starting "N:")
//
// Why it looks the way it does:
// - Values go through setEncrypted/getDecrypted (AES with Plesk's own key), never pm_Settings::set.
// - pm_Settings cannot list its keys, so the keys are kept in an index (plain pm_Settings::set,
//   it holds no secrets) for `clear`. One value is limited to 5000 characters, so the index is
//   split over `kv-index-0..n-1`, with the count in `kv-index`.
// - Keys are free text (keyv's `namespace:key`); settings names are `kv-` + sha1(key), short
//   and safe whatever the key.
// - Values over 5000 characters are refused here before Plesk sees them (the connector checks
//   first too), with the error code `secret_too_large`.
// - Nothing here echoes a value in an error: answers on failure carry only codes, keys' counts
//   and sizes.
// - Only pm_Settings is used, so the script runs the same under Plesk and under the test fake.

declare(strict_types=1);

namespace GdriveBackup\Kv;

const MAX_VALUE_LENGTH = 5000;
const NAME_PREFIX = 'kv-';
const INDEX_COUNT = 'kv-index';
const INDEX_CHUNK = 'kv-index-';
const INDEX_CHUNK_LENGTH = 4000;

final class BridgeError extends \Exception
{
    /** @param array<string, int|string> $details */
    public function __construct(public readonly string $errorCode, string $message, public readonly array $details = [])
    {
        parent::__construct($message);
    }
}

function settingName(string $key): string
{
    return NAME_PREFIX . sha1($key);
}

function characters(string $value): int
{
    if (function_exists('mb_strlen')) {
        return mb_strlen($value, 'UTF-8');
    }
    $count = preg_match_all('/./su', $value);
    return $count === false ? strlen($value) : $count;
}

function checkValue(mixed $value): string
{
    if (!is_string($value)) {
        throw new BridgeError('bad_request', 'The request is invalid: "value" must be a string.');
    }
    $size = characters($value);
    if ($size > MAX_VALUE_LENGTH) {
        throw new BridgeError(
            'secret_too_large',
            "A secret of $size characters does not fit Plesk's Key-Value Storage (" . MAX_VALUE_LENGTH . ' at most).',
            ['size' => $size],
        );
    }
    return $value;
}

function checkKey(mixed $key): string
{
    if (!is_string($key) || $key === '') {
        throw new BridgeError('bad_request', 'The request is invalid: a key must be a non-empty string.');
    }
    return $key;
}

/** @return list<string> */
function checkKeys(mixed $keys): array
{
    if (!is_array($keys) || !array_is_list($keys)) {
        throw new BridgeError('bad_request', 'The request is invalid: "keys" must be a list of strings.');
    }
    return array_map(checkKey(...), $keys);
}

/** @return array<string, true> the stored keys, as a set */
function readIndex(): array
{
    $count = (int) \pm_Settings::get(INDEX_COUNT, '0');
    $json = '';
    for ($i = 0; $i < $count; $i++) {
        $json .= (string) \pm_Settings::get(INDEX_CHUNK . $i, '');
    }
    if ($json === '') {
        return [];
    }
    $keys = json_decode($json, true);
    if (!is_array($keys)) {
        throw new BridgeError('index_corrupt', 'The key index of the Key-Value Storage is unreadable.');
    }
    return array_fill_keys(array_map('strval', $keys), true);
}

/** @param array<string, true> $index */
function writeIndex(array $index): void
{
    $before = (int) \pm_Settings::get(INDEX_COUNT, '0');
    // Escaped JSON is plain ASCII, so cutting it by bytes keeps every chunk within the limit.
    $json = $index === [] ? '' : json_encode(array_map('strval', array_keys($index)), JSON_THROW_ON_ERROR);
    $chunks = $json === '' ? [] : str_split($json, INDEX_CHUNK_LENGTH);
    foreach ($chunks as $i => $chunk) {
        \pm_Settings::set(INDEX_CHUNK . $i, $chunk);
    }
    \pm_Settings::set(INDEX_COUNT, (string) count($chunks));
    for ($i = count($chunks); $i < $before; $i++) {
        \pm_Settings::set(INDEX_CHUNK . $i, null);
    }
}

function read(string $key): ?string
{
    $value = \pm_Settings::getDecrypted(settingName($key));
    return $value === null ? null : (string) $value;
}

/** Through getDecrypted, like every read: how Plesk keeps encrypted values is its own business. */
function exists(string $key): bool
{
    return read($key) !== null;
}

/** @param list<array{0: string, 1: string}> $pairs */
function writeAll(array $pairs): void
{
    $index = readIndex();
    $added = false;
    foreach ($pairs as [$key, $value]) {
        \pm_Settings::setEncrypted(settingName($key), $value);
        if (!isset($index[$key])) {
            $index[$key] = true;
            $added = true;
        }
    }
    if ($added) {
        writeIndex($index);
    }
}

/**
 * @param list<string> $keys
 * @return list<bool> whether each key was there
 */
function deleteAll(array $keys): array
{
    $index = readIndex();
    $deleted = [];
    foreach ($keys as $key) {
        $deleted[] = exists($key);
        \pm_Settings::setEncrypted(settingName($key), null);
        unset($index[$key]);
    }
    writeIndex($index);
    return $deleted;
}

/** @return array<string, mixed> */
function handle(mixed $request): array
{
    if (!is_array($request) || !is_string($request['op'] ?? null)) {
        throw new BridgeError('bad_request', 'The request is invalid: expected a JSON object with "op".');
    }
    switch ($request['op']) {
        case 'get':
            return ['value' => read(checkKey($request['key'] ?? null))];
        case 'getMany':
            return ['values' => array_map(read(...), checkKeys($request['keys'] ?? null))];
        case 'has':
            return ['has' => exists(checkKey($request['key'] ?? null))];
        case 'hasMany':
            return ['has' => array_map(exists(...), checkKeys($request['keys'] ?? null))];
        case 'set':
            writeAll([[checkKey($request['key'] ?? null), checkValue($request['value'] ?? null)]]);
            return ['ok' => true];
        case 'setMany':
            $entries = $request['entries'] ?? null;
            if (!is_array($entries) || !array_is_list($entries)) {
                throw new BridgeError('bad_request', 'The request is invalid: "entries" must be a list.');
            }
            // Check every entry before writing any, so a refused batch changes nothing.
            $pairs = array_map(
                fn (mixed $entry): array => [
                    checkKey(is_array($entry) ? ($entry['key'] ?? null) : null),
                    checkValue(is_array($entry) ? ($entry['value'] ?? null) : null),
                ],
                $entries,
            );
            writeAll($pairs);
            return ['ok' => true];
        case 'delete':
            return ['deleted' => deleteAll([checkKey($request['key'] ?? null)])[0]];
        case 'deleteMany':
            return ['deleted' => deleteAll(checkKeys($request['keys'] ?? null))];
        case 'clear':
            $namespace = $request['namespace'] ?? null;
            if ($namespace !== null && !is_string($namespace)) {
                throw new BridgeError('bad_request', 'The request is invalid: "namespace" must be a string or null.');
            }
            $keys = array_map('strval', array_keys(readIndex()));
            if ($namespace !== null && $namespace !== '') {
                $keys = array_values(array_filter($keys, fn (string $key): bool => str_starts_with($key, $namespace . ':')));
            }
            deleteAll($keys);
            return ['ok' => true];
        default:
            throw new BridgeError('bad_request', 'The request is invalid: unknown op.');
    }
}

/** @param array<string, mixed> $answer */
function answer(array $answer): void
{
    fwrite(\STDOUT, json_encode($answer, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR) . "\n");
}

function main(): int
{
    try {
        $input = stream_get_contents(\STDIN);
        try {
            $request = json_decode($input === false ? '' : $input, true, 16, JSON_THROW_ON_ERROR);
        } catch (\JsonException) {
            throw new BridgeError('bad_request', 'The request is invalid: stdin is not one JSON object.');
        }
        answer(handle($request));
        return 0;
    } catch (BridgeError $error) {
        answer(['error' => ['code' => $error->errorCode, 'message' => $error->getMessage()] + $error->details]);
    } catch (\Throwable $error) {
        // Plesk's own failures (database, decryption): their text names keys, never values.
        answer(['error' => ['code' => 'storage_failed', 'message' => get_class($error) . ': ' . $error->getMessage()]]);
    }
    return 1;
}

exit(main());
