<?php

declare(strict_types=1);

// Fake of Plesk's backup transport hook with the SDK's exact declarations (plesk/pm-api-stubs,
// pm/Hook/Interface.php, pm/Hook/Backup.php, pm/Hook/Backup/Transport.php at 23386e7): a
// concrete class, untyped methods except getQuota(): array and getHash(): array (typed since the
// stubs of February 2022), openFileRead($path, $offset) without a default. Bodies return what the
// SDK's doc comments name as the default implementation. An extension class whose declarations
// are incompatible with these fails to load, here as in Plesk.

interface pm_Hook_Interface
{
}

interface pm_Hook_Backup extends pm_Hook_Interface
{
}

class pm_Hook_Backup_Transport implements pm_Hook_Backup
{
    public const TYPE_SUBSCRIPTION = 'subscription';
    public const TYPE_CUSTOMER = 'customer';
    public const TYPE_RESELLER = 'reseller';
    public const TYPE_SERVER = 'server';

    /** @var string */
    protected $_objectType;

    /** @var int|null */
    protected $_objectId;

    public function init($objectType, $objectId)
    {
        $this->_objectType = $objectType;
        $this->_objectId = $objectId;
    }

    public function isConfigured()
    {
        return false;
    }

    public function check()
    {
        return [];
    }

    public function getDescription()
    {
        return pm_Context::getModuleId();
    }

    public function stat($path)
    {
        return null;
    }

    public function listDir($path)
    {
        return [];
    }

    public function createDir($path)
    {
    }

    public function deleteFile($path)
    {
    }

    public function deleteDir($path)
    {
    }

    public function openFileRead($path, $offset)
    {
        return '';
    }

    public function readFile($fd, $localFile, $size = null)
    {
        return 0;
    }

    public function openFileWrite($path)
    {
        return '';
    }

    public function appendFile($fd, $localFile)
    {
        return 0;
    }

    public function closeFile($fd)
    {
    }

    public function getSettingsSubForm()
    {
        return new pm_Form_SubForm();
    }

    public function authorize(Zend_Controller_Action $controller)
    {
    }

    public function getQuota(): array
    {
        return [];
    }

    public function getHash(): array
    {
        return [];
    }
}
