# Installs the base packages that are missing. Params: DV_PACKAGES (space-separated).
read -r -a pkgs <<<"$DV_PACKAGES"
dv_install "${pkgs[@]}"
