<?php

declare(strict_types=1);

// The few Zend Framework 1 parts (forms, controller, request, view) that Plesk's SDK builds
// on and the extension uses, with ZF1's public signatures and only the behaviour we rely on:
// values set by isValid(), `required`, element errors, submit buttons' isChecked().

interface Zend_Validate_Interface
{
    public function isValid($value);
}

interface Zend_Controller_Action_Interface
{
}

class Zend_Form_Element
{
    private mixed $value;
    /** @var list<string> */
    private array $errors = [];

    /** @param array<string, mixed> $options */
    public function __construct(private string $type, private string $name, private array $options = [])
    {
        $this->value = $options['value'] ?? null;
    }

    public function getType(): string
    {
        return $this->type;
    }

    public function getName(): string
    {
        return $this->name;
    }

    public function getLabel(): ?string
    {
        return $this->options['label'] ?? null;
    }

    public function getDescription(): ?string
    {
        return $this->options['description'] ?? null;
    }

    public function getAttrib(string $name): mixed
    {
        return $this->options[$name] ?? null;
    }

    public function isRequired(): bool
    {
        return (bool) ($this->options['required'] ?? false);
    }

    public function getIgnore(): bool
    {
        return in_array($this->type, ['submit', 'button', 'description', 'hidden'], true)
            || (bool) ($this->options['ignore'] ?? false);
    }

    public function getValue(): mixed
    {
        return $this->value;
    }

    public function setValue($value): self
    {
        $this->value = $value;
        return $this;
    }

    /** ZF1: a submit button was pressed when its submitted value equals its label. */
    public function isChecked(): bool
    {
        return $this->type === 'submit' && $this->value !== null && $this->value !== ''
            && $this->value === ($this->getLabel() ?? $this->name);
    }

    public function addError($message): self
    {
        $this->errors[] = (string) $message;
        return $this;
    }

    /** @return list<string> */
    public function getMessages(): array
    {
        return $this->errors;
    }

    public function hasErrors(): bool
    {
        return $this->errors !== [];
    }

    public function isValid($value): bool
    {
        $this->setValue($value);
        if ($this->isRequired() && ($value === null || $value === '')) {
            $this->addError("Value is required and can't be empty");
        }
        return !$this->hasErrors();
    }
}

class Zend_Form
{
    /** @var array<string, Zend_Form_Element> */
    protected array $_elements = [];

    /** @param array<string, mixed>|null $options */
    public function __construct($options = null)
    {
        $this->init();
    }

    public function init()
    {
    }

    /** @param array<string, mixed> $options */
    public function addElement($element, $name = null, $options = null)
    {
        $this->_elements[(string) $name] = new Zend_Form_Element((string) $element, (string) $name, $options ?? []);
        return $this;
    }

    public function getElement($name)
    {
        return $this->_elements[$name] ?? null;
    }

    /** @return array<string, Zend_Form_Element> */
    public function getElements(): array
    {
        return $this->_elements;
    }

    public function getValue($name)
    {
        return isset($this->_elements[$name]) ? $this->_elements[$name]->getValue() : null;
    }

    /** @return array<string, mixed> */
    public function getValues($suppressArrayNotation = false)
    {
        $values = [];
        foreach ($this->_elements as $name => $element) {
            if (!$element->getIgnore()) {
                $values[$name] = $element->getValue();
            }
        }
        return $values;
    }

    /** @param array<string, mixed> $values */
    public function populate(array $values)
    {
        foreach ($values as $name => $value) {
            if (isset($this->_elements[$name])) {
                $this->_elements[$name]->setValue($value);
            }
        }
        return $this;
    }

    /** @param array<string, mixed> $data */
    public function isValid($data)
    {
        $valid = true;
        foreach ($this->_elements as $name => $element) {
            if (in_array($element->getType(), ['description'], true)) {
                continue;
            }
            $valid = $element->isValid($data[$name] ?? null) && $valid;
        }
        return $valid;
    }

    /** A plain rendering: labels, values (never a password's), descriptions and errors. */
    public function __toString(): string
    {
        $html = '<form method="post">';
        foreach ($this->_elements as $name => $element) {
            $value = $element->getType() === 'password' ? '' : (string) $element->getValue();
            $html .= sprintf(
                '<label>%s</label><input type="%s" name="%s" value="%s"><p>%s</p>%s',
                htmlspecialchars((string) $element->getLabel()),
                htmlspecialchars($element->getType()),
                htmlspecialchars($name),
                htmlspecialchars($value),
                $element->getAttrib('escape') === false ? $element->getDescription() : htmlspecialchars((string) $element->getDescription()),
                implode('', array_map(static fn (string $m): string => '<em>' . htmlspecialchars($m) . '</em>', $element->getMessages())),
            );
        }
        return $html . '</form>';
    }

    /** @return array<string, list<string>> */
    public function getMessages(): array
    {
        $messages = [];
        foreach ($this->_elements as $name => $element) {
            if ($element->hasErrors()) {
                $messages[$name] = $element->getMessages();
            }
        }
        return $messages;
    }
}

class Zend_Form_SubForm extends Zend_Form
{
}

class Zend_Controller_Request_Http
{
    /**
     * @param array<string, mixed> $params query and route parameters
     * @param array<string, mixed> $post
     */
    public function __construct(
        private array $params = [],
        private array $post = [],
        private string $requestUri = '/',
        private string $httpHost = 'panel.example.com:8443',
        private string $scheme = 'https',
    ) {
    }

    public function getParam($key, $default = null): mixed
    {
        return $this->post[$key] ?? $this->params[$key] ?? $default;
    }

    /** @return array<string, mixed> */
    public function getParams(): array
    {
        return array_merge($this->params, $this->post);
    }

    public function isPost(): bool
    {
        return $this->post !== [];
    }

    /** @return array<string, mixed> */
    public function getPost($key = null, $default = null): mixed
    {
        return $key === null ? $this->post : ($this->post[$key] ?? $default);
    }

    public function getRequestUri(): string
    {
        return $this->requestUri;
    }

    public function getHttpHost(): string
    {
        return $this->httpHost;
    }

    public function getScheme(): string
    {
        return $this->scheme;
    }
}

class Zend_View
{
    /** @var array<string, mixed> */
    private array $vars = [];

    public function __set(string $name, mixed $value): void
    {
        $this->vars[$name] = $value;
    }

    public function __get(string $name): mixed
    {
        return $this->vars[$name] ?? null;
    }

    public function __isset(string $name): bool
    {
        return isset($this->vars[$name]);
    }

    public function escape($value): string
    {
        return htmlspecialchars((string) $value, ENT_QUOTES, 'UTF-8');
    }

    public function renderFile(string $file): string
    {
        ob_start();
        include $file;
        return (string) ob_get_clean();
    }
}

class Zend_Controller_Action
{
    public Zend_View $view;

    /** Where the action redirected to (the fake's record of ZF1's redirector). */
    public ?string $redirectedTo = null;

    public function __construct(protected Zend_Controller_Request_Http $_request)
    {
        $this->view = new Zend_View();
        $this->init();
    }

    public function init()
    {
    }

    public function getRequest(): Zend_Controller_Request_Http
    {
        return $this->_request;
    }

    /** ZF 1.12's public redirect (the redirector helper; it ends the request in ZF). */
    public function redirect($url, array $options = [])
    {
        $this->_redirect($url, $options);
    }

    protected function _redirect($url, array $options = [])
    {
        $this->redirectedTo = (string) $url;
    }
}
