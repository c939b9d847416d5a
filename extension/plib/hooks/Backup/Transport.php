<?php

declare(strict_types=1);

/**
 * Google Drive as a remote storage of Plesk Backup Manager. Every method maps one Plesk call
 * onto one call of the connector's HTTP API (ConnectorClient); no Drive logic lives here.
 * Paths go to the connector as Plesk gives them: the connector normalises and confines them.
 *
 * Signatures follow the SDK's (plesk/pm-api-stubs pm/Hook/Backup/Transport.php): untyped, except
 * getQuota(): array and getHash(): array, which the SDK types and an override must type too
 * (test/php/LoadTest.php loads the class on base classes declared like the SDK's).
 */
class Modules_GdriveBackup_Backup_Transport extends pm_Hook_Backup_Transport
{
    /** Plesk hands ~100 MB pieces to appendFile (and asks for as much per readFile). */
    private const BUFFER_SIZE = 100 * 1024 * 1024;

    private Modules_GdriveBackup_BackupObject $object;

    private ?Modules_GdriveBackup_ConnectorClient $client = null;

    private ?Modules_GdriveBackup_LocalFileAccess $files = null;

    /** URL of the Connect button, known once authorize() saw the settings page's request. */
    private ?string $connectUrl = null;

    public function init($objectType, $objectId)
    {
        parent::init($objectType, $objectId);
        $this->object = Modules_GdriveBackup_BackupObject::fromHook($objectType, $objectId);
    }

    /** Not when the connector cannot say: check(), run before every backup, tells why. */
    public function isConfigured()
    {
        try {
            return (bool) ($this->client()->account($this->object->ref())['connected'] ?? false);
        } catch (pm_Exception $error) {
            pm_Log::err('Google Drive storage of ' . $this->object->ref() . ': ' . $error->getMessage());
            return false;
        }
    }

    public function check()
    {
        try {
            $result = $this->client()->check($this->object->ref());
            return ['errors' => $result['errors'] ?? [], 'warnings' => $result['warnings'] ?? []];
        } catch (pm_Exception $error) {
            return ['errors' => [$error->getMessage()], 'warnings' => []];
        }
    }

    public function getDescription()
    {
        try {
            $account = $this->client()->account($this->object->ref());
        } catch (pm_Exception $error) {
            return pm_Locale::lmsg('transport.descriptionUnavailable', ['reason' => $error->getMessage()]);
        }
        if (!($account['connected'] ?? false)) {
            return pm_Locale::lmsg('transport.descriptionNotConnected');
        }
        return pm_Locale::lmsg('transport.description', [
            'email' => $account['email'] ?? '',
            'folder' => $account['folder'] ?? '',
        ]);
    }

    public function stat($path)
    {
        return $this->client()->stat($this->object->ref(), (string) $path);
    }

    public function listDir($path)
    {
        return $this->client()->listDir($this->object->ref(), (string) $path);
    }

    public function createDir($path)
    {
        $this->client()->createDir($this->object->ref(), (string) $path);
    }

    public function deleteFile($path)
    {
        $this->client()->deleteFile($this->object->ref(), (string) $path);
    }

    public function deleteDir($path)
    {
        $this->client()->deleteDir($this->object->ref(), (string) $path);
    }

    public function openFileRead($path, $offset = 0)
    {
        return $this->client()->openRead($this->object->ref(), (string) $path, (int) $offset);
    }

    public function readFile($fd, $localFile, $size = null)
    {
        $size = $size === null ? null : (int) $size;
        return $this->files()->forWriting((string) $localFile, fn (string $path): int => $this->client()->read((string) $fd, $path, $size));
    }

    public function openFileWrite($path)
    {
        return $this->client()->openWrite($this->object->ref(), (string) $path);
    }

    public function appendFile($fd, $localFile)
    {
        return $this->files()->forReading((string) $localFile, fn (string $path): int => $this->client()->append((string) $fd, $path));
    }

    /** The connector's handles say what they are: `w-...` for writes, `r-...` for reads. */
    public function closeFile($fd)
    {
        $fd = (string) $fd;
        if (str_starts_with($fd, 'w-')) {
            $this->client()->closeWrite($fd);
        } elseif (str_starts_with($fd, 'r-')) {
            $this->client()->closeRead($fd);
        } else {
            throw new pm_Exception(pm_Locale::lmsg('error.unknown_handle', ['fd' => $fd]));
        }
    }

    public function getSettingsSubForm()
    {
        try {
            $account = $this->client()->account($this->object->ref());
        } catch (pm_Exception $error) {
            $account = ['connected' => false, 'error' => $error->getMessage()];
        }
        return new Modules_GdriveBackup_SettingsSubForm(['context' => [
            'objectType' => $this->_objectType,
            'objectId' => $this->_objectId,
            'account' => $account,
            'connectUrl' => $this->connectUrl,
        ]]);
    }

    public function authorize(Zend_Controller_Action $controller)
    {
        $this->connectUrl = Modules_GdriveBackup_OAuthFlow::connectUrl($controller->getRequest()->getRequestUri());
        (new Modules_GdriveBackup_OAuthFlow($this->object, $this->client()))->authorize($controller);
    }

    public function getQuota(): array
    {
        try {
            $quota = $this->client()->quota($this->object->ref());
        } catch (pm_Exception $error) {
            pm_Log::warn('No Google Drive quota for ' . $this->object->ref() . ': ' . $error->getMessage());
            return [];
        }
        return isset($quota['total'], $quota['free']) ? ['total' => (int) $quota['total'], 'free' => (int) $quota['free']] : [];
    }

    /** Drive keeps an md5 of every binary file; Plesk checks each new file against it. */
    public function getHash(): array
    {
        return ['type' => 'md5', 'blockSize' => 0];
    }

    public function getReadBufferSize()
    {
        return self::BUFFER_SIZE;
    }

    public function getWriteBufferSize()
    {
        return self::BUFFER_SIZE;
    }

    private function client(): Modules_GdriveBackup_ConnectorClient
    {
        return $this->client ??= Modules_GdriveBackup_ConnectorClient::fromContext();
    }

    /** Plesk's backup runs as root, the connector as the panel's user: see LocalFileAccess. */
    private function files(): Modules_GdriveBackup_LocalFileAccess
    {
        return $this->files ??= Modules_GdriveBackup_LocalFileAccess::fromService(Modules_GdriveBackup_ConnectorService::fromContext());
    }
}
