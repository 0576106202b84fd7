# Debian trixie's ceph-mgr 18.2.7 imports bcrypt (a PyO3 extension) at the top of
# mgr_util.py. PyO3 modules refuse to load in Python sub-interpreters, and every mgr module
# runs in one: most modules then fail with "PyO3 modules do not yet support
# subinterpreters" (HEALTH_WARN MGR_MODULE_DEPENDENCY). Detected here and reported; with
# DV_PATCH=1 the import moves into the one function that uses it (password hashing of the
# dashboard, which DebVisor does not enable). Params: DV_PATCH (1 or 0).
f=/usr/share/ceph/mgr/mgr_util.py
[ -f "$f" ] || exit 0
if grep -q '^import bcrypt$' "$f"; then
  version=$(dpkg-query -W -f='${Version}' ceph-mgr 2>/dev/null || echo unknown)
  if [ "$DV_PATCH" = 1 ]; then
    sed -i -e 's/^import bcrypt$/# import bcrypt  # debvisor: imported where used (PyO3 vs mgr sub-interpreters)/' \
      -e 's/^def password_hash(password: Optional\[str\], salt_password: Optional\[str\] = None) -> Optional\[str\]:$/&\n    import bcrypt/' "$f"
    grep -q '^    import bcrypt$' "$f" || dv_die "ceph-mgr $version: could not move mgr_util.py's bcrypt import (the file changed?): report it; meanwhile set storage.ceph.patchMgrPyO3: false and expect MGR_MODULE_DEPENDENCY"
    dv_log "ceph-mgr $version has Debian's PyO3 sub-interpreter defect (mgr modules fail to load): moved mgr_util.py's 'import bcrypt' into password_hash; a ceph-mgr upgrade undoes it and this step does it again"
    dv_changed "patched $f (PyO3 sub-interpreter defect)"
    if systemctl is-active --quiet ceph-mgr.target; then systemctl restart ceph-mgr.target; fi
  else
    dv_log "WARNING: ceph-mgr $version has Debian's PyO3 sub-interpreter defect: most mgr modules will fail (HEALTH_WARN MGR_MODULE_DEPENDENCY). Set storage.ceph.patchMgrPyO3: true to work around it, or install a ceph-mgr without it"
  fi
  dv_fact ceph.mgrPyO3Defect "$([ "$DV_PATCH" = 1 ] && echo patched || echo present)"
fi
