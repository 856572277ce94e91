#!/usr/bin/python
# Copyright: DermAI
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the sentry_config_inputs action (the work is done by action_plugins/sentry_config_inputs.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: sentry_config_inputs
short_description: Check and normalise every sentry_config_* variable before the first request
description:
  - Runs on the controller only. Reads the role's C(meta/argument_specs.yml) and refuses undeclared
    C(sentry_config_*) variables (naming the closest declared one), values of the wrong type (a string
    is never split into a list), unknown sub-keys, Sentry's name length limits, unknown platforms and
    rule node ids, and references to projects or environments that are not managed.
  - Every problem is listed in one failure; nothing has been sent to Sentry at that point.
  - Sets the facts C(_sentry_config_team), C(_sentry_config_projects), C(_sentry_config_environments),
    C(_sentry_config_issue_alerts) and C(_sentry_config_metric_alerts) with the spec's sub-option
    defaults filled in.
options: {}
author: DermAI
"""

EXAMPLES = r"""
- name: Check every sentry_config variable
  sentry_config_inputs:
"""

RETURN = r"""
ansible_facts:
  description: The normalised lists (private facts of the role).
  returned: success
  type: dict
"""
