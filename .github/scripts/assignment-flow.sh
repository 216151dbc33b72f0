#!/usr/bin/env bash
# The assignment's acceptance flow against a deployed stack: create an item, list
# items, read the item, then find each request's audit row in PostgreSQL with psql in
# the postgres pod (README: an item.create row with 201 and an item.list row with 200).
# Then one path the NetworkPolicies allow (items-service to audit-service) and one they
# must deny (the postgres pod to audit-service): the cluster's CNI enforces them.
# Exits non-zero when any step does not hold.
# Environment (optional): ITEMS_URL (default http://localhost:8080),
# NAMESPACE (default items-audit), KUBE_CONTEXT (default kind-items-audit),
# AUDIT_WAIT_SECONDS (default 60: how long the audit rows may take to arrive).
set -euo pipefail
items_url="${ITEMS_URL:-http://localhost:8080}"
kubectl=(kubectl --context "${KUBE_CONTEXT:-kind-items-audit}" --namespace "${NAMESPACE:-items-audit}")
audit_port=8081
# Each request carries an X-Request-ID of this run, so its audit rows are found by
# request_id, whatever else the database holds.
run_id="assignment-flow-$(date +%s)-$$"

echo "==> create an item"
created="$(curl -fsS -X POST "${items_url}/items" \
  -H "X-Request-ID: ${run_id}-1-create" \
  -H "Content-Type: application/json" \
  -d '{"name": "Test Item", "description": "Testing"}')"
echo "${created}"
item_id="$(python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])' <<<"${created}")"

echo "==> list items"
curl -fsS -H "X-Request-ID: ${run_id}-2-list" "${items_url}/items" |
  python3 -c 'import json, sys; assert isinstance(json.load(sys.stdin), list)'
curl -fsS -H "X-Request-ID: ${run_id}-3-read" "${items_url}/items/${item_id}"
echo

pod="$("${kubectl[@]}" get pod -l app.kubernetes.io/name=postgres -o name)"
psql=("${kubectl[@]}" exec "${pod}" -- psql -U postgres -d itemsdb)
# The outbox relay delivers events to audit-service within moments of the commit.
expected="item.create 201,item.list 200,item.read 200"
echo "==> wait for the audit rows of this run's three requests"
found=""
deadline=$((SECONDS + ${AUDIT_WAIT_SECONDS:-60}))
while ((SECONDS < deadline)); do
  found="$("${psql[@]}" -At -c "SELECT string_agg(action || ' ' || status_code, ',' ORDER BY request_id)
    FROM audit_logs WHERE request_id LIKE '${run_id}-%'")"
  [[ "${found}" == "${expected}" ]] && break
  sleep 2
done
if [[ "${found}" != "${expected}" ]]; then
  echo "expected the audit rows '${expected}', found: '${found}'" >&2
  exit 1
fi
"${psql[@]}" -c "SELECT * FROM audit_logs ORDER BY created_at DESC LIMIT 5;"
echo "audit rows of item ${item_id}'s requests: ${found}"

echo "==> NetworkPolicies: items-service reaches audit-service, the postgres pod must not"
audit_ip="$("${kubectl[@]}" get service audit-service -o jsonpath='{.spec.clusterIP}')"
"${kubectl[@]}" exec deploy/items-service -- python -c \
  "import socket; socket.create_connection(('${audit_ip}', ${audit_port}), timeout=5).close()"
echo "items-service -> audit-service:${audit_port}: connected"
# bash's /dev/tcp in the postgres image; `timeout` ends a connection the CNI drops.
status=0
"${kubectl[@]}" exec "${pod}" -- timeout 5 bash -c "exec 3<>/dev/tcp/${audit_ip}/${audit_port}" || status=$?
case "${status}" in
  0)
    echo "the postgres pod connected to audit-service:${audit_port}: the NetworkPolicies are not enforced" >&2
    exit 1
    ;;
  1 | 124) echo "postgres -> audit-service:${audit_port}: denied (exit ${status})" ;;
  *)
    echo "the connection probe could not run in ${pod} (exit ${status})" >&2
    exit 1
    ;;
esac
