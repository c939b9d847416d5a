<?php

declare(strict_types=1);

/**
 * One Plesk backup object (the server, a reseller, a customer or a subscription) as the
 * connector names it (`server`, `subscription:12`), with the name its Drive folder gets
 * (domain name, client login) and the per-object keys it uses in pm_Settings.
 */
final class Modules_GdriveBackup_BackupObject
{
    private const TYPES = ['server', 'reseller', 'customer', 'subscription'];

    private function __construct(
        public readonly string $type,
        public readonly ?int $id,
    ) {
    }

    /** From the arguments of pm_Hook_Backup_Transport::init(). */
    public static function fromHook($objectType, $objectId): self
    {
        $type = (string) $objectType;
        if (!in_array($type, self::TYPES, true)) {
            throw new pm_Exception(pm_Locale::lmsg('error.invalid_object', ['object' => $type]));
        }
        if ($type === 'server') {
            return new self($type, null);
        }
        if (!is_numeric($objectId) || (int) $objectId < 1) {
            throw new pm_Exception(pm_Locale::lmsg('error.invalid_object', ['object' => $type . ':' . $objectId]));
        }
        return new self($type, (int) $objectId);
    }

    /** The connector's name of the object: `server` or `<type>:<id>`. */
    public function ref(): string
    {
        return $this->id === null ? $this->type : $this->type . ':' . $this->id;
    }

    /** A name for its Drive folder: the domain name of a subscription, the login of a client. */
    public function displayName(): ?string
    {
        try {
            return match ($this->type) {
                'subscription' => (new pm_Domain($this->id))->getName(),
                'reseller', 'customer' => pm_Client::getByClientId($this->id)->getLogin(),
                default => null,
            };
        } catch (Throwable $error) {
            // The connector falls back to the id: a missing name must not stop a backup.
            pm_Log::warn('No name for backup object ' . $this->ref() . ': ' . $error->getMessage());
            return null;
        }
    }

    /** A pm_Settings key of this object (`<prefix>-server`, `<prefix>-subscription-12`). */
    public function settingsKey(string $prefix): string
    {
        return $prefix . '-' . str_replace(':', '-', $this->ref());
    }
}
