<?php

declare(strict_types=1);

/**
 * The storage settings sub-form of one backup object. Not connected: a "Connect Google Drive"
 * button (a link handled by the hook's authorize()). Connected: the account, a Disconnect
 * button and the folder setting. The folder setting is kept per object in pm_Settings and handed
 * to the connector when connecting (oauth/start `folder`): the connector keeps it in the
 * account record, so a changed folder applies from the next connection.
 */
class Modules_GdriveBackup_SettingsSubForm extends pm_Form_SubForm
{
    public const DISCONNECT = 'gdrive-disconnect';
    public const FOLDER = 'folder';

    /** @var bool */
    protected $_autoInitContext = true;

    /** @var string */
    protected $_objectType;

    /** @var int|null */
    protected $_objectId;

    /** @var array{connected?: bool, email?: string, folder?: string, error?: string} what the connector said */
    protected $_account = [];

    /** @var string|null */
    protected $_connectUrl;

    private Modules_GdriveBackup_BackupObject $object;

    /** @param array{context?: array<string, mixed>}|null $options */
    public function __construct($options = null)
    {
        $context = is_array($options['context'] ?? null) ? $options['context'] : [];
        $this->_objectType = $context['objectType'] ?? 'server';
        $this->_objectId = $context['objectId'] ?? null;
        $this->_account = $context['account'] ?? [];
        $this->_connectUrl = $context['connectUrl'] ?? null;
        parent::__construct($options);
    }

    public function init()
    {
        parent::init();
        $this->object = Modules_GdriveBackup_BackupObject::fromHook($this->_objectType, $this->_objectId);
        $message = Modules_GdriveBackup_Settings::takeMessage($this->object);
        if ($message !== null) {
            $this->addNote('message', $message['text'], $message['type']);
        }
        if (isset($this->_account['error'])) {
            $this->addNote('connectorError', $this->_account['error'], 'error');
        }
        if (!Modules_GdriveBackup_Settings::isClientConfigured()) {
            $this->addNote('notConfigured', pm_Session::getClient()->isAdmin()
                ? pm_Locale::lmsg('form.notConfiguredAdmin', ['url' => pm_Context::getBaseUrl()])
                : pm_Locale::lmsg('form.notConfigured'), 'warning');
        }
        if ($this->_account['connected'] ?? false) {
            $this->addNote('account', pm_Locale::lmsg('form.connectedAs', [
                'email' => htmlspecialchars((string) ($this->_account['email'] ?? ''), ENT_QUOTES),
                'folder' => htmlspecialchars((string) ($this->_account['folder'] ?? ''), ENT_QUOTES),
            ]), 'info');
            $this->addElement('submit', self::DISCONNECT, [
                'label' => pm_Locale::lmsg('form.disconnect'),
                'description' => pm_Locale::lmsg('form.disconnectHint'),
            ]);
        } else {
            $url = $this->_connectUrl ?? '?' . Modules_GdriveBackup_OAuthFlow::CONNECT . '=1';
            $this->addNote('connect', sprintf(
                '<a class="btn" href="%s">%s</a> %s',
                htmlspecialchars($url, ENT_QUOTES),
                htmlspecialchars(pm_Locale::lmsg('form.connect'), ENT_QUOTES),
                pm_Locale::lmsg('form.connectHint'),
            ), 'info');
        }
        $this->addElement('text', self::FOLDER, [
            'label' => pm_Locale::lmsg('form.folder'),
            'value' => Modules_GdriveBackup_Settings::folder($this->object),
            'required' => false,
            'description' => pm_Locale::lmsg('form.folderHint'),
        ]);
    }

    public function isValid($data)
    {
        if (is_array($data) && isset($data[self::FOLDER]) && is_string($data[self::FOLDER])) {
            $data[self::FOLDER] = trim($data[self::FOLDER]);
        }
        $valid = parent::isValid($data);
        $problem = Modules_GdriveBackup_FolderSetting::problem((string) $this->getValue(self::FOLDER));
        if ($problem !== null) {
            $this->getElement(self::FOLDER)->addError($problem);
            return false;
        }
        return $valid;
    }

    public function process()
    {
        Modules_GdriveBackup_Settings::setFolder($this->object, (string) $this->getValue(self::FOLDER));
        $disconnect = $this->getElement(self::DISCONNECT);
        if ($disconnect !== null && $disconnect->isChecked()) {
            Modules_GdriveBackup_ConnectorClient::fromContext()->disconnect($this->object->ref());
            Modules_GdriveBackup_Settings::forgetObject($this->object, keepMessage: true);
            pm_Log::info('Disconnected Google Drive for ' . $this->object->ref());
            Modules_GdriveBackup_Settings::pushMessage($this->object, 'info', pm_Locale::lmsg('form.disconnected', [
                'email' => (string) ($this->_account['email'] ?? ''),
            ]));
        }
    }

    /** Text shown on the form (HTML already escaped where it holds outside values). */
    private function addNote(string $name, string $html, string $type): void
    {
        $this->addElement('description', $name, [
            'description' => $html,
            'escape' => false,
            'class' => 'msg-box msg-' . $type,
        ]);
    }
}
