<?php

declare(strict_types=1);

/**
 * Fakes of Plesk's form, controller and status classes with the SDK's declarations
 * (plesk/pm-api-stubs pm/Form/SubForm.php, pm/Form/Simple.php, pm/Controller/Action.php,
 * pm/View/Status.php). pm_Form_SubForm with `$_autoInitContext` copies the `context` option
 * into `_<name>` properties before init(), as Plesk's sample extension relies on
 * (plesk/ext-cloud-backup-example, its SettingsSubForm; the property is not in the stubs).
 */
class pm_Form_SubForm extends Zend_Form implements Zend_Validate_Interface
{
    /** @var bool */
    protected $_autoInitContext = false;

    public function __construct($options = [])
    {
        if ($this->_autoInitContext && isset($options['context']) && is_array($options['context'])) {
            foreach ($options['context'] as $name => $value) {
                $this->{'_' . $name} = $value;
            }
        }
        parent::__construct($options);
    }

    public function init()
    {
    }

    public function process()
    {
    }

    public function isValid($data)
    {
        return parent::isValid($data);
    }

    public function getValue($name)
    {
        return parent::getValue($name);
    }

    public function getValues($suppressArrayNotation = false)
    {
        return parent::getValues($suppressArrayNotation);
    }

    public function addElement($element, $name = null, $options = null)
    {
        return parent::addElement($element, $name, $options);
    }

    public function getElement($name)
    {
        return parent::getElement($name);
    }
}

class pm_Form_Simple extends Zend_Form implements Zend_Validate_Interface
{
    public function __construct($options = [])
    {
        parent::__construct($options);
    }

    public function init()
    {
    }

    public function process()
    {
    }

    public function isValid($data)
    {
        return parent::isValid($data);
    }

    public function getValue($name)
    {
        return parent::getValue($name);
    }

    public function addElement($element, $name = null, $options = null)
    {
        return parent::addElement($element, $name, $options);
    }

    public function getElement($name)
    {
        return parent::getElement($name);
    }

    public function addControlButtons(?array $params = null)
    {
        $this->addElement('submit', 'send', ['label' => 'OK']);
    }
}

/** Plesk's status messages are static in the SDK; the fake keeps them for the tests to read. */
class pm_View_Status
{
    public const STATUS_INFO = 'info';
    public const STATUS_WARNING = 'warning';
    public const STATUS_ERROR = 'error';

    /** @var list<array{0: string, 1: string}> */
    public static array $messages = [];

    public static function addMessage($status, $message, $noEscape = false)
    {
        self::$messages[] = [(string) $status, (string) $message];
    }
}

abstract class pm_Controller_Action extends Zend_Controller_Action implements Zend_Controller_Action_Interface
{
    /** @var pm_View_Status */
    protected $_status;

    public function __construct(Zend_Controller_Request_Http $request)
    {
        $this->_status = new pm_View_Status();
        parent::__construct($request);
    }

    public function init()
    {
    }

    public function preDispatch()
    {
    }

    public static function lmsg($key, $params = [])
    {
        return pm_Locale::lmsg($key, $params);
    }
}
