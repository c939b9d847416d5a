<?php
// Test double of Plesk's pm_Settings (the extension's Key-Value Storage), with the SDK's static
// signatures (plesk/pm-api-stubs pm/Settings.php: get, set, clean($prefix), getDecrypted,
// setEncrypted; values of at most 5000 characters since 17.8, pm_Exception_InvalidArgumentException
// beyond; no way to list keys). Plesk keeps these values in its database and encrypts the `*Encrypted` ones with
// AES-128-CBC under its own key; the fake does the same with a fixed test key, so a test can
// assert that no secret lies in the clear on disk.
//
// Storage: the JSON file named by the environment variable FAKE_PLESK_SETTINGS_FILE (read on
// every call and rewritten atomically on every change, so separate PHP processes -- the panel and
// a backup -- see each other's values), else an in-memory array for the process. Whether Plesk
// counts the 5000 characters of an encrypted value before or after encryption is not documented:
// the fake counts the plain text (the lenient reading); the extension stays far below either.
//
// Like Plesk: values are strings of at most 5000 characters; setting null removes the key.

declare(strict_types=1);

class pm_Settings
{
    /** Plesk's limit on one value, in characters. */
    public const MAX_VALUE_LENGTH = 5000;

    /** Fixed test key (16 bytes for AES-128); FAKE_PLESK_SECRET_KEY overrides it. */
    private const TEST_KEY = 'fake-plesk-key16';

    private const CIPHER = 'aes-128-cbc';

    /** Marks a stored value as ciphertext: `$AES-128-CBC$<base64 iv>$<base64 ciphertext>`. */
    private const ENCRYPTED_PREFIX = '$AES-128-CBC$';

    /** @var array<string, string> used when no settings file is configured */
    private static array $memory = [];

    public static function get($name, $default = null)
    {
        $all = self::load();
        return array_key_exists((string) $name, $all) ? $all[(string) $name] : $default;
    }

    public static function set($name, $value)
    {
        self::store((string) $name, $value === null ? null : self::checked((string) $name, $value));
    }

    public static function getDecrypted($name, $default = null)
    {
        $stored = self::get($name);
        if ($stored === null) {
            return $default;
        }
        return self::decrypt((string) $name, $stored);
    }

    public static function setEncrypted($name, $value)
    {
        if ($value === null) {
            self::store((string) $name, null);
            return;
        }
        self::store((string) $name, self::encrypt(self::checked((string) $name, $value)));
    }

    /** Removes the values whose names start with $prefix (all of them for ''). */
    public static function clean($prefix = '')
    {
        $prefix = (string) $prefix;
        self::save(array_filter(
            self::load(),
            static fn (string $name): bool => $prefix !== '' && !str_starts_with($name, $prefix),
            ARRAY_FILTER_USE_KEY,
        ));
    }

    /** Test helper, not in the SDK: every stored name and value, as Plesk's database holds them. @return array<string, string> */
    public static function fakeAll(): array
    {
        return self::load();
    }

    /** Test helper, not in the SDK: forget the in-memory values (the file, if any, is kept). */
    public static function fakeReset(): void
    {
        self::$memory = [];
    }

    private static function checked(string $key, $value): string
    {
        if (!is_scalar($value)) {
            throw self::error("pm_Settings: the value of '$key' must be a string");
        }
        $value = (string) $value;
        $length = function_exists('mb_strlen') ? mb_strlen($value, 'UTF-8') : strlen($value);
        if ($length > self::MAX_VALUE_LENGTH) {
            throw self::error(
                "pm_Settings: the value of '$key' has $length characters, more than " . self::MAX_VALUE_LENGTH,
                true,
            );
        }
        return $value;
    }

    private static function key(): string
    {
        $key = getenv('FAKE_PLESK_SECRET_KEY');
        return is_string($key) && $key !== '' ? $key : self::TEST_KEY;
    }

    private static function encrypt(string $plain): string
    {
        $iv = random_bytes(16);
        $cipher = openssl_encrypt($plain, self::CIPHER, self::key(), OPENSSL_RAW_DATA, $iv);
        if ($cipher === false) {
            throw self::error('pm_Settings: encryption failed');
        }
        return self::ENCRYPTED_PREFIX . base64_encode($iv) . '$' . base64_encode($cipher);
    }

    private static function decrypt(string $key, string $stored): string
    {
        if (!str_starts_with($stored, self::ENCRYPTED_PREFIX)) {
            throw self::error("pm_Settings: the value of '$key' is not encrypted");
        }
        $parts = explode('$', substr($stored, strlen(self::ENCRYPTED_PREFIX)));
        $iv = base64_decode($parts[0] ?? '', true);
        $cipher = base64_decode($parts[1] ?? '', true);
        $plain = ($iv === false || $cipher === false || strlen($iv) !== 16)
            ? false
            : openssl_decrypt($cipher, self::CIPHER, self::key(), OPENSSL_RAW_DATA, $iv);
        if ($plain === false) {
            throw self::error("pm_Settings: the value of '$key' cannot be decrypted");
        }
        return $plain;
    }

    private static function store(string $key, ?string $value): void
    {
        $all = self::load();
        if ($value === null) {
            unset($all[$key]);
        } else {
            $all[$key] = $value;
        }
        self::save($all);
    }

    /** @return array<string, string> */
    private static function load(): array
    {
        $file = self::file();
        if ($file === null) {
            return self::$memory;
        }
        if (!is_file($file)) {
            return [];
        }
        $text = file_get_contents($file);
        $all = $text === false || $text === '' ? [] : json_decode($text, true);
        if (!is_array($all)) {
            throw self::error("pm_Settings: the settings file $file is not a JSON object");
        }
        return $all;
    }

    /** @param array<string, string> $all */
    private static function save(array $all): void
    {
        $file = self::file();
        if ($file === null) {
            self::$memory = $all;
            return;
        }
        $json = json_encode((object) $all, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR);
        // Write beside and rename, so a reader in another process never sees half a file.
        $temp = $file . '.' . getmypid() . '.tmp';
        if (file_put_contents($temp, $json) === false || !rename($temp, $file)) {
            @unlink($temp);
            throw self::error("pm_Settings: cannot write the settings file $file");
        }
    }

    private static function file(): ?string
    {
        $file = getenv('FAKE_PLESK_SETTINGS_FILE');
        return is_string($file) && $file !== '' ? $file : null;
    }

    private static function error(string $message, bool $invalidArgument = false): Throwable
    {
        return $invalidArgument ? new pm_Exception_InvalidArgumentException($message) : new pm_Exception($message);
    }
}
