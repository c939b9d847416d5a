<?php

declare(strict_types=1);

/**
 * Fakes of Plesk's form classes. pm_Form_SubForm with `$_autoInitContext` copies the `context`
 * option into `_<name>` properties before init(), as Plesk's sample extension relies on.
 */
class pm_Form_SubForm extends Zend_Form_SubForm
{
    /** @var bool */
    protected $_autoInitContext = false;

    /** @param array<string, mixed>|null $options */
    public function __construct($options = null)
    {
        if ($this->_autoInitContext && isset($options['context']) && is_array($options['context'])) {
            foreach ($options['context'] as $name => $value) {
                $this->{'_' . $name} = $value;
            }
        }
        parent::__construct($options);
    }
}

class pm_Form_Simple extends Zend_Form
{
    /** @param array<string, mixed> $options */
    public function addControlButtons(array $options = []): void
    {
        $this->addElement('submit', 'send', ['label' => 'OK']);
    }
}

class pm_View_Status
{
    /** @var list<array{0: string, 1: string}> */
    public array $messages = [];

    public function addMessage($type, $message): void
    {
        $this->messages[] = [(string) $type, (string) $message];
    }
}

class pm_Controller_Action extends Zend_Controller_Action
{
    public pm_View_Status $status;

    protected pm_View_Status $_status;

    public function __construct(Zend_Controller_Request_Http $request)
    {
        $this->status = $this->_status = new pm_View_Status();
        parent::__construct($request);
    }
}
