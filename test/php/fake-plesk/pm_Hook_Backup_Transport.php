<?php

declare(strict_types=1);

/**
 * Fake of Plesk's pm_Hook_Backup_Transport with the SDK's (untyped) signatures: abstract
 * methods make PHP check that the extension's class implements the whole contract.
 */
abstract class pm_Hook_Backup_Transport
{
    public const TYPE_SERVER = 'server';
    public const TYPE_RESELLER = 'reseller';
    public const TYPE_CUSTOMER = 'customer';
    public const TYPE_SUBSCRIPTION = 'subscription';

    /** @var string */
    protected $_objectType;

    /** @var int|null */
    protected $_objectId;

    public function init($objectType, $objectId)
    {
        $this->_objectType = $objectType;
        $this->_objectId = $objectId;
    }

    abstract public function isConfigured();

    abstract public function getDescription();

    abstract public function stat($path);

    abstract public function listDir($path);

    abstract public function createDir($path);

    abstract public function deleteFile($path);

    abstract public function deleteDir($path);

    abstract public function openFileRead($path, $offset = 0);

    abstract public function readFile($fd, $localFile, $size = null);

    abstract public function openFileWrite($path);

    abstract public function appendFile($fd, $localFile);

    abstract public function closeFile($fd);

    abstract public function getSettingsSubForm();

    public function check()
    {
        return ['errors' => [], 'warnings' => []];
    }

    public function authorize(Zend_Controller_Action $controller)
    {
    }

    public function getQuota()
    {
        return [];
    }

    public function getHash()
    {
        return [];
    }
}
