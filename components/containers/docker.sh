# @include host/include/apt.sh
# Docker Engine from Debian on the system containerd (docker.io's unit starts dockerd with
# --containerd=/run/containerd/containerd.sock: one containerd for Docker and Kubernetes),
# and Compose. daemon.json is written before the first start. Params: DV_DOCKER_PACKAGES
# (space-separated), DV_DOCKER_VERSIONS (name=upstream-version words), DV_DAEMON_JSON,
# DV_COMPOSE_COMMAND (how Compose runs on this release; empty: no Compose).
read -r -a pkgs <<<"$DV_DOCKER_PACKAGES"

# A daemon that runs already restarts for a changed daemon.json; one the install starts
# reads it from the start.
restart=false
if dv_write_file /etc/docker/daemon.json 644 "$DV_DAEMON_JSON" && systemctl is-active --quiet docker.service; then restart=true; fi
dv_install_refreshed "${pkgs[@]}"

dv_check_versions "$DV_DOCKER_VERSIONS"

# docker.socket too: a client that comes before the daemon starts it.
dv_enable_now docker.socket || true
if ! dv_enable_now docker.service && [ "$restart" = true ]; then
  # live-restore (daemon.json) keeps the containers running across the restart.
  systemctl restart docker.service
  dv_changed "restarted docker"
fi
driver=$(docker info --format '{{.CgroupDriver}}' 2>/dev/null) || dv_die "dockerd does not answer on /run/docker.sock"
[ "$driver" = systemd ] || dv_die "dockerd runs with the $driver cgroup driver, not systemd: /etc/docker/daemon.json was not applied"
dv_fact docker_version "$(docker version --format '{{.Server.Version}}' 2>/dev/null)"
if [ -n "$DV_COMPOSE_COMMAND" ]; then
  read -r -a compose <<<"$DV_COMPOSE_COMMAND"
  v=$("${compose[@]}" version --short 2>/dev/null) || dv_die "Compose does not run: $DV_COMPOSE_COMMAND version failed"
  dv_fact compose "$DV_COMPOSE_COMMAND $v"
fi
