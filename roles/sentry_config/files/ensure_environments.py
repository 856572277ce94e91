# Run by `sentry exec` inside Sentry's web container (tasks/environments.py): make the environments the
# alerts are scoped to exist for the managed projects, as the first event of an environment would
# (Environment + EnvironmentProject rows through Environment.get_or_create, the call ingestion makes),
# without sending an event. Same models from Sentry 23.7 to 26.x.
# Input (environment): DERMAI_ORG, DERMAI_PROJECTS and DERMAI_ENVIRONMENTS (comma-separated),
# DERMAI_CHECK=1 to only report. Output: one line "DERMAI_ENVIRONMENTS <json>" with the missing
# "<project>:<environment>" pairs (created unless checking) and the projects not found.
# `sentry exec` exits 0 even when the script raises: the output line is the proof of success.
import json
import os

from sentry.models.environment import Environment
from sentry.models.organization import Organization
from sentry.models.project import Project

org = Organization.objects.get(slug=os.environ["DERMAI_ORG"])
names = [n for n in os.environ["DERMAI_ENVIRONMENTS"].split(",") if n]
slugs = [s for s in os.environ["DERMAI_PROJECTS"].split(",") if s]
check = os.environ.get("DERMAI_CHECK") == "1"
missing = []
projects = list(Project.objects.filter(organization_id=org.id, slug__in=slugs))
for project in projects:
    for name in names:
        if not Environment.objects.filter(organization_id=org.id, name=name, projects=project).exists():
            missing.append(f"{project.slug}:{name}")
            if not check:
                Environment.get_or_create(project, name)
unknown = sorted(set(slugs) - {p.slug for p in projects})
print("DERMAI_ENVIRONMENTS " + json.dumps({"missing": missing, "unknown_projects": unknown, "check": check}))
