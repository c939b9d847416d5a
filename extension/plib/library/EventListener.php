<?php

declare(strict_types=1);

/**
 * Plesk's event hook (plib/library/EventListener.php returns an instance; the shape public
 * extensions use, e.g. plesk/ext-domain-connect): when a subscription, customer or reseller is
 * deleted, its Google Drive connection is removed from the connector (and so its refresh token
 * from pm_Settings) and its own keys from pm_Settings. Its backups stay in Drive.
 *
 * The action names are Plesk's event names for a deleted subscription (domain_delete, whose
 * object id is the domain id the backup hook gets for a subscription), customer (client_delete)
 * and reseller (reseller_delete); only objects this panel connected (Settings::markConnected)
 * reach the connector, so deleting other domains starts no service.
 */
class Modules_GdriveBackup_EventListener implements EventListener
{
    private const DELETED = [
        'domain_delete' => 'subscription',
        'client_delete' => 'customer',
        'reseller_delete' => 'reseller',
    ];

    public function filterActions()
    {
        return array_keys(self::DELETED);
    }

    public function handleEvent($objectType, $objectId, $action, $oldValues, $newValues)
    {
        $type = self::DELETED[(string) $action] ?? null;
        if ($type === null || !is_numeric($objectId) || (int) $objectId < 1) {
            return;
        }
        $object = Modules_GdriveBackup_BackupObject::fromHook($type, (int) $objectId);
        try {
            if (Modules_GdriveBackup_Settings::isMarkedConnected($object)) {
                Modules_GdriveBackup_ConnectorClient::fromContext()->disconnect($object->ref());
                pm_Log::info('Removed the Google Drive connection of deleted ' . $object->ref());
            }
        } catch (pm_Exception $error) {
            pm_Log::err('Could not remove the Google Drive connection of deleted ' . $object->ref() . ': ' . $error->getMessage());
        } finally {
            Modules_GdriveBackup_Settings::forgetObject($object);
        }
    }
}

// Plesk includes this file outside the extension's context (as plesk/ext-domain-connect notes).
pm_Context::init('gdrive-backup');

return new Modules_GdriveBackup_EventListener();
