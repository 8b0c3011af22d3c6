"""Everything in the checkout that is generated from the package's own tables, behind one command.

    pacemaker-exporter generate            # rewrite what is stale
    pacemaker-exporter generate --check    # exit 1 and name each stale file (CI)

Each module owns one family of artefacts and returns them as ``{path relative to the checkout:
content}`` (rules.py, rule_tests.py, dashboards.py, zabbix_templates.py, metrics_doc.py,
findings_table.py); checkout.py compares them with a checkout and writes them; command.py is the
command. Nothing is imported here, so that the CLI registering the command stays cheap.
"""
