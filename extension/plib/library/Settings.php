<?php

declare(strict_types=1);

/**
 * The extension's settings in Plesk's Key-Value Storage (pm_Settings): the OAuth client the
 * server administrator registered at Google (the secret encrypted), the callback URL, each
 * object's folder setting, one-shot messages for the settings page, and the overrides of
 * where the connector lives (tests and unusual installs).
 */
final class Modules_GdriveBackup_Settings
{
    public const CLIENT_ID = 'client-id';
    public const CLIENT_SECRET = 'client-secret';
    public const CALLBACK_URL = 'callback-url';
    public const NODE_BINARY = 'node-binary';
    public const CONNECTOR_BUNDLE = 'connector-bundle';
    public const CONNECTOR_DATA_DIR = 'connector-data-dir';
    public const CONNECTOR_SECRETS_STORE = 'connector-secrets-store';
    /** Where Plesk's psa.conf is (DUMP_D); only tests and unusual installs change it. */
    public const PSA_CONF = 'psa-conf';

    public static function clientId(): string
    {
        return (string) pm_Settings::get(self::CLIENT_ID, '');
    }

    public static function clientSecret(): string
    {
        return (string) pm_Settings::getDecrypted(self::CLIENT_SECRET, '');
    }

    public static function isClientConfigured(): bool
    {
        return self::clientId() !== '' && self::clientSecret() !== '';
    }

    /** The secret as the extension page shows it: never more than its last 4 characters. */
    public static function maskedClientSecret(): string
    {
        $secret = self::clientSecret();
        return $secret === '' ? '' : str_repeat('•', 8) . (strlen($secret) > 12 ? substr($secret, -4) : '');
    }

    /** Stores the OAuth client; an empty secret keeps the stored one. Says whether anything changed. */
    public static function saveClient(string $clientId, string $clientSecret, string $callbackUrl): bool
    {
        $changed = $clientId !== self::clientId() || $callbackUrl !== self::storedCallbackUrl()
            || ($clientSecret !== '' && $clientSecret !== self::clientSecret());
        pm_Settings::set(self::CLIENT_ID, $clientId);
        if ($clientSecret !== '') {
            pm_Settings::setEncrypted(self::CLIENT_SECRET, $clientSecret);
        }
        pm_Settings::set(self::CALLBACK_URL, $callbackUrl);
        return $changed;
    }

    private static function storedCallbackUrl(): string
    {
        return (string) pm_Settings::get(self::CALLBACK_URL, '');
    }

    /**
     * The one redirect URI registered at Google: the stored one, else the panel's own address
     * as seen in this request.
     */
    public static function callbackUrl(?Zend_Controller_Request_Http $request = null): string
    {
        $stored = self::storedCallbackUrl();
        if ($stored !== '' || $request === null) {
            return $stored;
        }
        return 'https://' . $request->getHttpHost() . pm_Context::getBaseUrl() . 'public/oauth-callback.php';
    }

    public static function folder(Modules_GdriveBackup_BackupObject $object): string
    {
        return (string) pm_Settings::get($object->settingsKey('folder'), '');
    }

    public static function setFolder(Modules_GdriveBackup_BackupObject $object, string $folder): void
    {
        pm_Settings::set($object->settingsKey('folder'), $folder === '' ? null : $folder);
    }

    /** Marks the object as connected through this panel (OAuthFlow), so a deletion knows to disconnect it. */
    public static function markConnected(Modules_GdriveBackup_BackupObject $object, bool $connected): void
    {
        pm_Settings::set($object->settingsKey('connected'), $connected ? '1' : null);
    }

    public static function isMarkedConnected(Modules_GdriveBackup_BackupObject $object): bool
    {
        return pm_Settings::get($object->settingsKey('connected')) === '1';
    }

    /**
     * Removes the object's own keys (folder setting, connected mark and, unless $keepMessage,
     * its pending message) when it is disconnected or deleted.
     */
    public static function forgetObject(Modules_GdriveBackup_BackupObject $object, bool $keepMessage = false): void
    {
        foreach (['folder', 'connected', ...($keepMessage ? [] : ['message'])] as $prefix) {
            pm_Settings::set($object->settingsKey($prefix), null);
        }
    }

    /** Remembers a message for the object's settings page, shown once after the next redirect. */
    public static function pushMessage(Modules_GdriveBackup_BackupObject $object, string $type, string $text): void
    {
        pm_Settings::set($object->settingsKey('message'), json_encode(['type' => $type, 'text' => $text]));
    }

    /** @return array{type: string, text: string}|null */
    public static function takeMessage(Modules_GdriveBackup_BackupObject $object): ?array
    {
        $key = $object->settingsKey('message');
        $stored = pm_Settings::get($key);
        if ($stored === null || $stored === '') {
            return null;
        }
        pm_Settings::set($key, null);
        $message = json_decode((string) $stored, true);
        return is_array($message) && isset($message['type'], $message['text']) ? $message : null;
    }
}
