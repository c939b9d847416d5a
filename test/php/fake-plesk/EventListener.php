<?php

declare(strict_types=1);

/**
 * Fake of Plesk's event listener interface. It is not in plesk/pm-api-stubs; its shape is the one
 * public extensions implement in plib/library/EventListener.php (plesk/ext-domain-connect:
 * `class Modules_DomainConnect_EventListener implements EventListener` with
 * `handleEvent($objectType, $objectId, $action, $oldValues, $newValues)`, the file returning an
 * instance).
 */
interface EventListener
{
    public function handleEvent($objectType, $objectId, $action, $oldValues, $newValues);
}
