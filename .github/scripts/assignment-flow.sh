#!/usr/bin/env bash
# The assignment's acceptance flow against a deployed stack: create an item, list
# items, then find that request's audit events in PostgreSQL with psql in the
# postgres pod. Exits non-zero when any step does not hold.
# Environment (optional): ITEMS_URL (default http://localhost:8080),
# NAMESPACE (default items-audit), KUBE_CONTEXT (default kind-items-audit).
set -euo pipefail
items_url="${ITEMS_URL:-http://localhost:8080}"
kubectl=(kubectl --context "${KUBE_CONTEXT:-kind-items-audit}" --namespace "${NAMESPACE:-items-audit}")

echo "==> create an item"
created="$(curl -fsS -X POST "${items_url}/items" \
  -H "Content-Type: application/json" \
  -d '{"name": "Test Item", "description": "Testing"}')"
echo "${created}"
item_id="$(python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])' <<<"${created}")"

echo "==> list items"
curl -fsS "${items_url}/items" | python3 -c 'import json, sys; assert isinstance(json.load(sys.stdin), list)'
curl -fsS "${items_url}/items/${item_id}"
echo

pod="$("${kubectl[@]}" get pod -l app.kubernetes.io/name=postgres -o name)"
psql=("${kubectl[@]}" exec "${pod}" -- psql -U postgres -d itemsdb)
# The outbox relay delivers events to audit-service within moments of the commit.
echo "==> wait for the audit events of item ${item_id}"
for _ in $(seq 1 30); do
  actions="$("${psql[@]}" -At -c "SELECT string_agg(action, ',' ORDER BY id) FROM audit_logs
    WHERE details->>'item_id' = '${item_id}' OR resource_id = '${item_id}'")"
  if [[ "${actions}" == "item.create,item.read" ]]; then
    "${psql[@]}" -c "SELECT * FROM audit_logs ORDER BY created_at DESC LIMIT 5;"
    echo "audit trail of item ${item_id}: ${actions}"
    exit 0
  fi
  sleep 2
done
echo "expected the events item.create,item.read for item ${item_id}, found: '${actions}'" >&2
exit 1
