"""Config as code: webhooks, rules and workflows declared in a YAML file.

`document` reads and validates the file (every problem as `file:line: field: message`),
`plan` compares it with the database, `apply` writes the difference in one transaction and
`export` writes the database back out in the same format, secrets as `${ENV}` references.
"""
