# shellcheck shell=bash
# shellcheck disable=SC2034 # the names are used by the scripts that source this file
# The real-node cluster's names, addresses and paths, and the helpers e2e/node-up and
# e2e/node-down share. Sourced, not run.

readonly name=items-audit-pods
readonly node=items-audit-node
readonly bridge=items-audit0
# The node's address is the bridge's: the first of the pod range, which the bridge plugin
# uses as the pods' gateway.
readonly node_ip=10.244.0.1
readonly pod_cidr=10.244.0.0/24
readonly cluster_cidr=10.244.0.0/16
readonly service_cidr=10.96.0.0/16
readonly api_service_ip=10.96.0.1
readonly dns_service_ip=10.96.0.10
readonly apiserver_port=6443
readonly etcd_port=12379
readonly etcd_peer_port=12380
readonly controller_manager_port=10257
readonly scheduler_port=10259
readonly kubelet_port=10250
readonly kubelet_healthz_port=10248
readonly kube_proxy_healthz_port=10256
readonly kube_proxy_metrics_port=10249
readonly kube_router_health_port=20244
# The names e2e/pods/images/load gives the cluster's own images in the runtime.
readonly pause_image=registry.k8s.io/pause:3.10.2
readonly coredns_image=registry.k8s.io/coredns/coredns:v1.14.2
readonly local_path_image=docker.io/rancher/local-path-provisioner:v0.0.30
readonly local_path_helper_image=items-audit-e2e/local-path-helper:1

state="${XDG_CACHE_HOME:-${HOME}/.cache}/items-audit/e2e-node"
readonly state
readonly kubeconfig="${state}/kubeconfig"
readonly logs="${state}/logs"
readonly pids="${state}/pids"
readonly pki="${state}/pki"
readonly host_changes="${state}/host-changes"
readonly containerd_socket="${state}/containerd/containerd.sock"
readonly cni_conf_dir="${state}/cni/net.d"
readonly volumes_dir="${state}/volumes"

start() {  # name command... : runs a node agent in the background, its own session and log
  local agent="$1"
  shift
  echo "node-up: starting ${agent} (log: ${logs}/${agent}.log)" >&2
  PATH="$(dirname "$1"):${PATH}" setsid "$@" >"${logs}/${agent}.log" 2>&1 < /dev/null &
  echo "$!" > "${pids}/${agent}.pid"
}

wait_for() {  # seconds what command... : until the command succeeds
  local seconds="$1" what="$2" deadline
  shift 2
  deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      echo "node-up: gave up waiting ${seconds} s for ${what}; logs in ${logs}" >&2
      return 1
    fi
    sleep 1
  done
}

node_answers() {  # bin
  [[ -f "${kubeconfig}" ]] &&
    "$1/kubectl" --kubeconfig "${kubeconfig}" --context "${name}" --request-timeout=5s \
      wait --for=condition=Ready "node/${node}" --timeout=5s >/dev/null 2>&1
}
